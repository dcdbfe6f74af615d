"""Validation of Gelato sandbox request bodies into typed requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.sandbox.gelato_orders import (
    DEFAULT_ADDRESS,
    DEFAULT_FILE_URL,
    DEFAULT_PRODUCT_UID,
    STATUSES,
    NewOrder,
)
from bridge.sandbox.replies import JsonObject, SandboxError

REQUIRED_ADDRESS_FIELDS = (
    "firstName",
    "lastName",
    "addressLine1",
    "city",
    "postCode",
    "country",
    "email",
)
OPTIONAL_ADDRESS_FIELDS = ("companyName", "addressLine2", "state", "phone")
MAX_METADATA = 20
MAX_METADATA_LENGTH = 100
MAX_PARTS = 20


@dataclass(frozen=True)
class PatchRequest:
    """A draft-to-order conversion, optionally keeping only some items."""

    items: list[JsonObject] | None = None


def read_optional_text(value: Any, path: str) -> str | None:
    """Read an optional string field; empty counts as absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SandboxError(400, f"{path} must be a string.")
    return value


def read_text(value: Any, path: str) -> str:
    """Read a required string field, naming it in the 400 when missing."""
    text = read_optional_text(value, path)
    if text is None:
        raise SandboxError(400, f"{path} is required.")
    return text


def read_integer(value: Any, path: str, default: int | None, minimum: int) -> int:
    """Read an integer field at or above a minimum; a None default makes it required."""
    if value is None:
        if default is None:
            raise SandboxError(400, f"{path} is required.")
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SandboxError(400, f"{path} must be an integer >= {minimum}.")
    return value


def read_strings(body: JsonObject, key: str) -> frozenset[str] | None:
    """Read an optional list-of-strings filter as a set."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SandboxError(400, f"{key} must be a list of strings.")
    return frozenset(value)


def _files(value: Any, path: str) -> list[JsonObject]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SandboxError(400, f"{path} must be a list.")
    files = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise SandboxError(400, f"{path}[{index}] must be an object.")
        url = read_text(entry.get("url"), f"{path}[{index}].url")
        kind = read_optional_text(entry.get("type"), f"{path}[{index}].type")
        files.append({"type": kind or "default", "url": url})
    return files


def _items(value: Any) -> list[JsonObject]:
    if not isinstance(value, list) or not value:
        raise SandboxError(400, "items is required and must not be empty.")
    items: list[JsonObject] = []
    seen: set[str] = set()
    for index, entry in enumerate(value):
        path = f"items[{index}]"
        if not isinstance(entry, dict):
            raise SandboxError(400, f"{path} must be an object.")
        reference = read_text(entry.get("itemReferenceId"), f"{path}.itemReferenceId")
        if reference in seen:
            raise SandboxError(400, f"{path}.itemReferenceId must be unique within the order.")
        seen.add(reference)
        items.append(
            {
                "itemReferenceId": reference,
                "productUid": read_text(entry.get("productUid"), f"{path}.productUid"),
                "quantity": read_integer(entry.get("quantity"), f"{path}.quantity", None, 1),
                "files": _files(entry.get("files"), f"{path}.files"),
            }
        )
    return items


def _address(value: Any) -> JsonObject:
    if not isinstance(value, dict):
        raise SandboxError(400, "shippingAddress is required.")
    address: JsonObject = {}
    for name in REQUIRED_ADDRESS_FIELDS:
        address[name] = read_text(value.get(name), f"shippingAddress.{name}")
    for name in OPTIONAL_ADDRESS_FIELDS:
        address[name] = read_optional_text(value.get(name), f"shippingAddress.{name}")
    country = address["country"]
    if len(country) != 2 or not country.isalpha() or not country.isupper():
        raise SandboxError(400, "shippingAddress.country must be a two-letter ISO 3166 code.")
    return address


def _metadata(value: Any) -> list[JsonObject]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SandboxError(400, "metadata must be a list.")
    if len(value) > MAX_METADATA:
        raise SandboxError(400, f"metadata must have at most {MAX_METADATA} entries.")
    entries = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise SandboxError(400, f"metadata[{index}] must be an object.")
        pair = {}
        for name in ("key", "value"):
            text = read_text(entry.get(name), f"metadata[{index}].{name}")
            if len(text) > MAX_METADATA_LENGTH:
                raise SandboxError(
                    400, f"metadata[{index}].{name} must be at most {MAX_METADATA_LENGTH} chars."
                )
            pair[name] = text
        entries.append(pair)
    return entries


def _shipment_method(value: Any) -> str:
    uid = read_optional_text(value, "shipmentMethodUid")
    # Gelato picks the cheapest of comma-separated choices; the sandbox takes the first.
    return uid.split(",")[0].strip() if uid else "normal"


def parse_create(body: JsonObject) -> NewOrder:
    """Validate a POST /v4/orders body, naming the first faulty field."""
    order_type = body.get("orderType", "order")
    if order_type not in ("order", "draft"):
        raise SandboxError(400, "orderType must be 'order' or 'draft'.")
    reference = read_text(body.get("orderReferenceId"), "orderReferenceId")
    customer = read_text(body.get("customerReferenceId"), "customerReferenceId")
    currency = read_text(body.get("currency"), "currency")
    return NewOrder(
        order_type=order_type,
        status="draft" if order_type == "draft" else "created",
        order_reference_id=reference,
        customer_reference_id=customer,
        currency=currency,
        items=_items(body.get("items")),
        shipping_address=_address(body.get("shippingAddress")),
        shipment_method_uid=_shipment_method(body.get("shipmentMethodUid")),
        metadata=_metadata(body.get("metadata")),
    )


def parse_patch(body: JsonObject) -> PatchRequest:
    """Validate a PATCH /v4/orders/<id> body: only a conversion to a regular order."""
    if body.get("orderType") != "order":
        raise SandboxError(400, "orderType is required and must be 'order'.")
    items = body.get("items")
    if items is None:
        return PatchRequest()
    if not isinstance(items, list):
        raise SandboxError(400, "items must be a list.")
    kept = []
    for index, entry in enumerate(items):
        if not isinstance(entry, dict):
            raise SandboxError(400, f"items[{index}] must be an object.")
        kept.append(
            {
                "id": read_text(entry.get("id"), f"items[{index}].id"),
                "files": None
                if entry.get("files") is None
                else _files(entry["files"], f"items[{index}].files"),
            }
        )
    return PatchRequest(items=kept)


def parse_status(body: JsonObject) -> str:
    """Read a known fulfillment status from a control request body."""
    status = body.get("status")
    if status not in STATUSES or status == "draft":
        raise SandboxError(400, f"status must be one of {sorted(STATUSES - {'draft'})}.")
    return str(status)


def parse_seed(body: JsonObject) -> list[NewOrder]:
    """Read a seed request into one order spec per part of a (possibly split) order."""
    reference = read_text(body.get("orderReferenceId"), "orderReferenceId")
    parts = read_integer(body.get("parts"), "parts", 1, 1)
    if parts > MAX_PARTS:
        raise SandboxError(400, f"parts must be at most {MAX_PARTS}.")
    statuses = body.get("statuses", [body.get("status", "passed")] * parts)
    if not isinstance(statuses, list) or len(statuses) != parts:
        raise SandboxError(400, "statuses must be a list with one status per part.")
    for status in statuses:
        if status not in STATUSES:
            raise SandboxError(400, f"status must be one of {sorted(STATUSES)}.")
    overrides = body.get("shippingAddress") or {}
    if not isinstance(overrides, dict):
        raise SandboxError(400, "shippingAddress must be an object.")
    address = _address({**DEFAULT_ADDRESS, **overrides})
    raw_items = body.get("items") or [
        {"itemReferenceId": f"{reference}-item-{n + 1}"} for n in range(parts)
    ]
    if not isinstance(raw_items, list) or len(raw_items) < parts:
        raise SandboxError(400, "items must be a list with at least one item per part.")
    items = _items(
        [
            {
                "itemReferenceId": f"{reference}-item-{n + 1}",
                "productUid": DEFAULT_PRODUCT_UID,
                "quantity": 1,
                "files": [{"type": "default", "url": DEFAULT_FILE_URL}],
                **(entry if isinstance(entry, dict) else {}),
            }
            for n, entry in enumerate(raw_items)
        ]
    )
    currency = read_text(body.get("currency", "USD"), "currency")
    customer = read_text(body.get("customerReferenceId", "sandbox-customer"), "customerReferenceId")
    return [
        NewOrder(
            order_type="draft" if status == "draft" else "order",
            status=str(status),
            order_reference_id=reference,
            customer_reference_id=customer,
            currency=currency,
            # Round-robin, as if Gelato routed items to different production hubs.
            items=items[part::parts],
            shipping_address=address,
            shipment_method_uid=_shipment_method(body.get("shipmentMethodUid")),
            metadata=_metadata(body.get("metadata")),
            channel=str(body.get("channel", "api")),
            store_id=read_optional_text(body.get("storeId"), "storeId"),
        )
        for part, status in enumerate(statuses)
    ]
