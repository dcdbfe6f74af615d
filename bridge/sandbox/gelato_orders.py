"""Gelato v4 order documents: status sets, builders and the search-result view."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bridge.sandbox.replies import JsonObject

# Cancellable per gelato.md §2.3/§3.4; all but created/uploading/digitizing/passed are UNCONFIRMED.
CANCELLABLE = frozenset(
    {
        "created",
        "uploading",
        "digitizing",
        "passed",
        "pending_approval",
        "pending_personalization",
        "not_connected",
        "on_hold",
    }
)
# Past the production cut-off; in_production is inferred from "before it moves into production".
PAST_CUT_OFF = frozenset(
    {"in_production", "printed", "shipped", "in_transit", "delivered", "returned"}
)
STATUSES = CANCELLABLE | PAST_CUT_OFF | {"draft", "failed", "canceled"}
PRINTED_MESSAGE = (
    "The order cannot be canceled, because at least one of the items is in 'printed' status."
)

DEFAULT_PRODUCT_UID = (
    "apparel_product_gca_t-shirt_gsc_crewneck_gcu_unisex_gqa_classic_gsi_s_gco_white_gpr_4-4"
)
DEFAULT_FILE_URL = "https://example.com/print-files/logo.png"
DEFAULT_ADDRESS: JsonObject = {
    "firstName": "Paul",
    "lastName": "Smith",
    "companyName": "Example",
    "addressLine1": "451 Clarkson Ave",
    "addressLine2": "Brooklyn",
    "city": "New York",
    "postCode": "11203",
    "state": "NY",
    "country": "US",
    "email": "paul.smith@example.com",
    "phone": "123456789",
}
ADDRESS_FIELDS = tuple(DEFAULT_ADDRESS)
SHIPMENT_METHOD_NAMES = {"normal": "Normal", "standard": "Standard", "express": "Express"}
# Prices are fixed so benchmark and test output stays reproducible.
ITEM_PRICE = Decimal("12.47")
SHIPPING_PRICE = Decimal("4.91")


@dataclass
class NewOrder:
    """Validated fields of an order to build, from a create call or a seed."""

    order_type: str
    status: str
    order_reference_id: str
    customer_reference_id: str
    currency: str
    items: list[JsonObject]
    shipping_address: JsonObject
    shipment_method_uid: str = "standard"
    metadata: list[JsonObject] = field(default_factory=list)
    channel: str = "api"
    store_id: str | None = None


def now_iso() -> str:
    """Return the current UTC time in Gelato's ISO 8601 form."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def new_id() -> str:
    """Return a fresh Gelato-style uuid4 id."""
    return str(uuid.uuid4())


def financial_status(status: str) -> str:
    """Return the financialStatus that goes with a fulfillmentStatus."""
    if status in ("draft", "canceled"):
        return status
    return "paid"


def build_order(spec: NewOrder) -> JsonObject:
    """Build a full order document shaped like the Get order example of gelato.md §3.1."""
    order_id = new_id()
    now = now_iso()
    today = datetime.now(UTC).date()
    country = spec.shipping_address.get("country")
    items = [
        {
            "id": new_id(),
            "itemReferenceId": item["itemReferenceId"],
            "productUid": item["productUid"],
            "quantity": item["quantity"],
            "files": [dict(f) for f in item.get("files", [])],
            "fulfillmentStatus": spec.status,
            "previews": [],
        }
        for item in spec.items
    ]
    uid = spec.shipment_method_uid
    return {
        "id": order_id,
        "orderType": spec.order_type,
        "orderReferenceId": spec.order_reference_id,
        "customerReferenceId": spec.customer_reference_id,
        "fulfillmentStatus": spec.status,
        "financialStatus": financial_status(spec.status),
        "currency": spec.currency,
        "channel": spec.channel,
        "storeId": spec.store_id,
        "createdAt": now,
        "updatedAt": now,
        "orderedAt": None if spec.order_type == "draft" else now,
        "items": items,
        "shipment": {
            "id": new_id(),
            "shipmentMethodName": SHIPMENT_METHOD_NAMES.get(uid, uid),
            "shipmentMethodUid": uid,
            "minDeliveryDays": 3,
            "maxDeliveryDays": 6,
            "minDeliveryDate": (today + timedelta(days=3)).isoformat(),
            "maxDeliveryDate": (today + timedelta(days=6)).isoformat(),
            "totalWeight": 0,
            "fulfillmentCountry": country,
            "packagesCount": 0,
            "packages": [],
        },
        "shippingAddress": {
            "id": new_id(),
            "orderId": order_id,
            **{name: spec.shipping_address.get(name) for name in ADDRESS_FIELDS},
        },
        "metadata": [dict(entry) for entry in spec.metadata],
        "connectedOrderIds": [],
        "receipts": [],
    }


def set_status(order: JsonObject, status: str) -> None:
    """Move an order and all its items to a status, as Gelato reports a whole-order change."""
    order["fulfillmentStatus"] = status
    order["financialStatus"] = financial_status(status)
    for item in order["items"]:
        item["fulfillmentStatus"] = status
    order["updatedAt"] = now_iso()


def total_incl_vat(order: JsonObject) -> str:
    """Return the order total as the string Gelato's search results carry."""
    if order["orderType"] == "draft":
        return "0.00"
    quantity = sum(int(item["quantity"]) for item in order["items"])
    return str(ITEM_PRICE * quantity + SHIPPING_PRICE)


def summary(order: JsonObject) -> JsonObject:
    """Return the search-result view of an order (gelato.md §3.2)."""
    address: dict[str, Any] = order["shippingAddress"]
    return {
        "channel": order["channel"],
        "connectedOrderIds": list(order["connectedOrderIds"]),
        "country": address.get("country"),
        "createdAt": order["createdAt"],
        "currency": order["currency"],
        "customerReferenceId": order["customerReferenceId"],
        "financialStatus": order["financialStatus"],
        "firstName": address.get("firstName"),
        "fulfillmentStatus": order["fulfillmentStatus"],
        "id": order["id"],
        "itemsCount": len(order["items"]),
        "lastName": address.get("lastName"),
        "orderReferenceId": order["orderReferenceId"],
        "orderType": order["orderType"],
        "orderedAt": order["orderedAt"],
        "storeId": order["storeId"],
        "totalInclVat": total_incl_vat(order),
        "updatedAt": order["updatedAt"],
    }
