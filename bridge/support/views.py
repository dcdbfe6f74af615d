"""The console's pages to read: overview, search and list, an order's timeline, the queue."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from bridge.domain.actions import ActionKind
from bridge.domain.outcomes import Outcome
from bridge.domain.shop_domain import normalize_shop_domain
from bridge.domain.wording import KIND_WORDS, explain, headline
from bridge.support.blueprint import blueprint, queries, services
from bridge.support.overview import overview as compute_overview
from bridge.support.queries import OPEN, Cursor, Filters
from bridge.support.timeline import story
from bridge.web_security import login_required, viewer

OUTCOMES = [outcome.value for outcome in Outcome]
KINDS = [kind.value for kind in ActionKind]


@blueprint.app_template_global()
def outcome_label(outcome: str | None, state: str = "done") -> str:
    """An outcome's short label for lists and badges."""
    return headline(outcome, state)


@blueprint.app_template_global()
def kind_label(kind: str) -> str:
    """An action kind in words."""
    return KIND_WORDS.get(kind, kind)


@blueprint.get("/")
@login_required
def overview() -> ResponseReturnValue:
    """The state at a glance."""
    found = compute_overview(services().storage.engine, viewer().shops, services().clock())
    return render_template("support/overview.html", overview=found, outcomes=[*OUTCOMES, OPEN])


def read_filters(args: MultiDict[str, str]) -> tuple[Filters, list[str]]:
    """The list's filters from the query string, and what was ignored as malformed."""
    problems: list[str] = []
    shop = (args.get("shop") or "").strip()
    shop_domain = normalize_shop_domain(shop) if shop else None
    if shop and shop_domain is None:
        problems.append(f"Shop {shop!r} is not a shop domain (name.myshopify.com).")
    outcome = args.get("outcome") or None
    if outcome is not None and outcome not in OUTCOMES and outcome != OPEN:
        problems.append(f"Unknown outcome {outcome!r}.")
        outcome = None
    kind = args.get("kind") or None
    if kind is not None and kind not in KINDS:
        problems.append(f"Unknown kind {kind!r}.")
        kind = None
    days = {}
    for name in ("since", "until"):
        text = args.get(name) or ""
        try:
            days[name] = date.fromisoformat(text) if text else None
        except ValueError:
            problems.append(f"{name.capitalize()} must be a date like 2026-11-20.")
            days[name] = None
    text_query = (args.get("q") or "").strip()[:255] or None
    filters = Filters(shop_domain, outcome, kind, days["since"], days["until"], text_query)
    return filters, problems


@blueprint.get("/actions")
@login_required
def actions() -> ResponseReturnValue:
    """Actions, newest first: searched by order or id, filtered, paged."""
    filters, problems = read_filters(request.args)
    if viewer().is_merchant:
        filters = replace(filters, shop=None)  # the scope is their shop already
    page = queries().actions(viewer().shops, filters, Cursor.decode(request.args.get("after")))
    return render_template(
        "support/actions.html",
        page=page,
        filters=filters,
        problems=problems,
        outcomes=OUTCOMES,
        open_outcome=OPEN,
        kinds=KINDS,
        args=request.args,
    )


@blueprint.get("/orders/<shop>/<order_id>")
@login_required
def order(shop: str, order_id: str) -> ResponseReturnValue:
    """One store order's whole story."""
    if not viewer().may_see(shop):
        abort(404)
    document = story(services().synclog, shop, order_id, queries().notes)
    if document is None:
        abort(404)
    return render_template("support/order.html", order=document)


@blueprint.get("/actions/<action_id>")
@login_required
def action(action_id: str) -> ResponseReturnValue:
    """An action's place in its order's timeline."""
    found = queries().action(action_id, viewer().shops)
    if found is None:
        abort(404)
    target = url_for("support.order", shop=found.shop, order_id=found.order_id)
    return redirect(f"{target}#action-{found.id}")


@blueprint.get("/attention")
@login_required
def attention() -> ResponseReturnValue:
    """Actions that ended needs_attention or not_found and nobody has handled, oldest first."""
    scope = viewer().shops
    page = queries().attention(scope, Cursor.decode(request.args.get("after")))
    explained = {
        row.id: explain(row.outcome, row.state, [], reason=row.reason, message=row.message)
        for row in page.rows
    }
    return render_template(
        "support/attention.html",
        page=page,
        explained=explained,
        handled=queries().handled(scope, limit=20),
    )
