"""In-memory tokens, tags, metafields, webhook subscriptions and call log of the store sandbox."""

from __future__ import annotations

import copy
import hmac
import itertools
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.sandbox.faults import CountedFaults
from bridge.sandbox.replies import JsonObject
from bridge.sandbox.store_input import read_metafields, read_subscription, read_tags, user_error

FAULT_KINDS = frozenset({"throttled", "429", "500"})


@dataclass
class StoreFault:
    """A queued failure for the next store-admin calls."""

    kind: str
    remaining: int
    retry_after: int | None = None


class StoreState:
    """Per-shop state of the store sandbox, guarded by one lock."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self._lock = threading.Lock()
        self._tokens = dict(tokens)
        self._tags: dict[tuple[str, str], list[str]] = {}
        self._metafields: dict[tuple[str, str], dict[str, JsonObject]] = {}
        self._subscriptions: dict[str, list[JsonObject]] = {}
        self._calls: list[JsonObject] = []
        self._faults: CountedFaults[StoreFault] = CountedFaults()
        self._ids = itertools.count(1)

    def register(self, shop: str, token: str) -> None:
        """Accept `token` as the access token of `shop`."""
        with self._lock:
            self._tokens[shop] = token

    def token_ok(self, shop: str, token: str) -> bool:
        """Tell whether `token` is the registered access token of `shop`."""
        with self._lock:
            expected = self._tokens.get(shop)
        return expected is not None and hmac.compare_digest(expected.encode(), token.encode())

    def queue_fault(self, fault: StoreFault) -> None:
        """Fail the next calls, `fault.remaining` of them."""
        self._faults.push(fault)

    def next_fault(self) -> StoreFault | None:
        """Use up one turn of the oldest queued failure, if any."""
        return self._faults.take()

    def tags_add(self, shop: str, variables: JsonObject) -> JsonObject:
        """Add tags to an order, keeping existing ones and skipping duplicates."""
        gid, tags, errors = read_tags(variables)
        if errors:
            return {"node": None, "userErrors": errors}
        with self._lock:
            current = self._tags.setdefault((shop, gid), [])
            current.extend(tag for tag in tags if tag not in current)
        return {"node": {"id": gid}, "userErrors": []}

    def metafields_set(self, shop: str, variables: JsonObject) -> JsonObject:
        """Create or update metafields by (owner, namespace, key), all or nothing."""
        inputs, errors = read_metafields(variables)
        if errors:
            return {"metafields": [], "userErrors": errors}
        written = []
        with self._lock:
            for entry in inputs:
                owned = self._metafields.setdefault((shop, entry["ownerId"]), {})
                name = f"{entry['namespace']}.{entry['key']}"
                previous = owned.get(name)
                # An update keeps the metafield's id, as Shopify does.
                gid = previous["id"] if previous else f"gid://shopify/Metafield/{next(self._ids)}"
                owned[name] = {
                    "id": gid,
                    "namespace": entry["namespace"],
                    "key": entry["key"],
                    "value": entry["value"],
                    "type": entry["type"],
                }
                written.append(dict(owned[name]))
        return {"metafields": written, "userErrors": []}

    def subscription_create(self, shop: str, variables: JsonObject) -> JsonObject:
        """Register a webhook subscription, refusing a duplicate topic and address."""
        fields, errors = read_subscription(variables)
        with self._lock:
            existing = self._subscriptions.setdefault(shop, [])
            if any(s["topic"] == fields["topic"] and s["uri"] == fields["uri"] for s in existing):
                errors.append(
                    user_error(
                        ["webhookSubscription", "callbackUrl"],
                        "Address for this topic has already been taken",
                    )
                )
            if errors:
                return {"webhookSubscription": None, "userErrors": errors}
            now = datetime.now(UTC).replace(microsecond=0).isoformat()
            subscription = {
                "id": f"gid://shopify/WebhookSubscription/{next(self._ids)}",
                **fields,
                # callbackUrl is the older name of uri; clients of either version find theirs.
                "callbackUrl": fields["uri"],
                "metafieldNamespaces": [],
                "createdAt": now,
                "updatedAt": now,
            }
            existing.append(subscription)
            return {"webhookSubscription": copy.deepcopy(subscription), "userErrors": []}

    def subscriptions(self, shop: str, variables: JsonObject) -> JsonObject:
        """List a shop's webhook subscriptions as a connection, optionally by topics."""
        topics = variables.get("topics")
        with self._lock:
            found = [
                copy.deepcopy(s)
                for s in self._subscriptions.get(shop, [])
                if not isinstance(topics, list) or s["topic"] in topics
            ]
        return {
            "edges": [{"cursor": s["id"], "node": s} for s in found],
            "nodes": found,
            "pageInfo": {"hasNextPage": False, "endCursor": found[-1]["id"] if found else None},
        }

    def order_view(self, shop: str, order_id: str) -> JsonObject:
        """Return the tags and metafields written to one order."""
        gid = f"gid://shopify/Order/{order_id}"
        with self._lock:
            return {
                "tags": list(self._tags.get((shop, gid), [])),
                "metafields": copy.deepcopy(self._metafields.get((shop, gid), {})),
            }

    def record(self, call: JsonObject) -> None:
        """Append one GraphQL call to the log."""
        with self._lock:
            self._calls.append(call)

    def calls(self) -> list[JsonObject]:
        """Return a copy of the GraphQL call log."""
        with self._lock:
            return copy.deepcopy(self._calls)

    def reset(self) -> None:
        """Forget everything but the registered tokens, which are configuration."""
        with self._lock:
            self._tags.clear()
            self._metafields.clear()
            self._subscriptions.clear()
            self._calls.clear()
            self._faults.clear()
