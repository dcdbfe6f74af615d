"""Validation of store-admin GraphQL mutation variables into values or Shopify userErrors."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge.sandbox.replies import JsonObject

ORDER_GID = re.compile(r"gid://shopify/Order/\d+")
OWNER_GID = re.compile(r"gid://shopify/[A-Za-z]+/\d+")
TOPIC = re.compile(r"[A-Z][A-Z0-9_]*")
MAX_METAFIELDS = 25
# Omitting the namespace selects the app-reserved one (shopify.md §4.3), named app--<app id>.
APP_NAMESPACE = "app--1"


class VariableError(Exception):
    """A variable of the wrong GraphQL type, answered as a top-level `errors` entry."""

    def __init__(self, name: str, type_name: str) -> None:
        super().__init__(f"Variable ${name} of type {type_name} was provided invalid value")


def user_error(field: list[str], message: str, code: str | None = None) -> JsonObject:
    """Build one Shopify userErrors entry."""
    error: JsonObject = {"field": field, "message": message}
    if code is not None:
        error["code"] = code
    return error


def read_tags(variables: JsonObject) -> tuple[str, list[str], list[JsonObject]]:
    """Read tagsAdd variables into the order gid, the tags and any userErrors."""
    gid = variables.get("id")
    if not isinstance(gid, str):
        raise VariableError("id", "ID!")
    raw = variables.get("tags")
    # Shopify accepts a list of tags or one comma-separated string (shopify.md §4.1).
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list) or not all(isinstance(tag, str) for tag in raw):
        raise VariableError("tags", "[String!]!")
    tags = list(dict.fromkeys(tag.strip() for tag in raw if tag.strip()))
    errors = []
    if not ORDER_GID.fullmatch(gid):
        errors.append(user_error(["id"], f"Invalid id: {gid}"))
    if not tags:
        errors.append(user_error(["tags"], "Tags can't be blank"))
    return gid, tags, errors


def _value_problem(kind: str, value: str) -> str | None:
    if kind == "json":
        try:
            json.loads(value)
        except json.JSONDecodeError as exc:
            return f"Value is invalid JSON: {exc.msg}."
    elif kind == "number_integer" and not re.fullmatch(r"-?\d+", value):
        return "Value must be an integer."
    elif kind == "number_decimal":
        try:
            Decimal(value)
        except InvalidOperation:
            return "Value must be a decimal."
    elif kind == "boolean" and value not in ("true", "false"):
        return "Value must be true or false."
    elif kind == "single_line_text_field" and "\n" in value:
        return "Value must be a single line."
    return None


def _metafield_errors(index: int, entry: JsonObject) -> list[JsonObject]:
    def at(name: str, message: str, code: str) -> JsonObject:
        return user_error(["metafields", str(index), name], message, code)

    errors = []
    owner = entry.get("ownerId")
    if not isinstance(owner, str) or not OWNER_GID.fullmatch(owner):
        errors.append(at("ownerId", "Owner does not exist.", "INVALID"))
    namespace = entry.get("namespace", APP_NAMESPACE)
    if not isinstance(namespace, str) or not 3 <= len(namespace) <= 255:
        errors.append(at("namespace", "Namespace must be 3 to 255 characters.", "INVALID"))
    key = entry.get("key")
    if not isinstance(key, str) or not 2 <= len(key) <= 64:
        errors.append(at("key", "Key must be 2 to 64 characters.", "INVALID"))
    kind = entry.get("type")
    if not isinstance(kind, str) or not kind:
        errors.append(at("type", "Type can't be blank.", "BLANK"))
    value = entry.get("value")
    if not isinstance(value, str) or value == "":
        errors.append(at("value", "Value can't be blank.", "BLANK"))
    elif isinstance(kind, str):
        problem = _value_problem(kind, value)
        if problem is not None:
            errors.append(at("value", problem, "INVALID_VALUE"))
    return errors


def read_metafields(variables: JsonObject) -> tuple[list[JsonObject], list[JsonObject]]:
    """Read metafieldsSet variables into normalised inputs and any userErrors."""
    raw = variables.get("metafields")
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        raise VariableError("metafields", "[MetafieldsSetInput!]!")
    if not raw:
        return [], [user_error(["metafields"], "Metafields can't be blank.", "BLANK")]
    if len(raw) > MAX_METAFIELDS:
        message = f"Exceeded the maximum metafields input limit of {MAX_METAFIELDS}."
        return [], [user_error(["metafields"], message, "LESS_THAN_OR_EQUAL_TO")]
    errors = [error for index, entry in enumerate(raw) for error in _metafield_errors(index, entry)]
    inputs = [
        {
            "ownerId": entry["ownerId"],
            "namespace": entry.get("namespace", APP_NAMESPACE),
            "key": entry["key"],
            "type": entry["type"],
            "value": entry["value"],
        }
        for entry in raw
    ]
    # metafieldsSet is atomic: one bad input means nothing is written.
    return ([] if errors else inputs), errors


def read_subscription(variables: JsonObject) -> tuple[JsonObject, list[JsonObject]]:
    """Read webhookSubscriptionCreate variables into the subscription fields and userErrors."""
    topic = variables.get("topic")
    if not isinstance(topic, str):
        raise VariableError("topic", "WebhookSubscriptionTopic!")
    spec: Any = variables.get("webhookSubscription")
    if not isinstance(spec, dict):
        raise VariableError("webhookSubscription", "WebhookSubscriptionInput!")
    # Newer API versions take `uri`, older ones `callbackUrl` (shopify.md §3.8): accept both.
    uri = spec.get("uri") or spec.get("callbackUrl")
    fmt = spec.get("format", "JSON")
    include = spec.get("includeFields") or []
    errors = []
    if not TOPIC.fullmatch(topic):
        errors.append(user_error(["topic"], f"Topic is invalid: {topic}"))
    if not isinstance(uri, str) or not uri:
        errors.append(user_error(["webhookSubscription", "callbackUrl"], "Address can't be blank"))
    if fmt not in ("JSON", "XML"):
        errors.append(user_error(["webhookSubscription", "format"], "Format is invalid"))
    if not isinstance(include, list) or not all(isinstance(name, str) for name in include):
        errors.append(user_error(["webhookSubscription", "includeFields"], "Invalid fields"))
    fields = {"topic": topic, "uri": uri, "format": fmt, "includeFields": include}
    return fields, errors
