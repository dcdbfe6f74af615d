"""The console's pages that act: mark handled, re-evaluate, and the ticket for Gelato support."""

from __future__ import annotations

import json

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bridge.adapters.storage import ActionRecord
from bridge.support.blueprint import blueprint, queries, services
from bridge.support.records import SupportRecords
from bridge.support.reevaluate import Preview, Started, confirm, preview
from bridge.support.tickets import ticket, ticket_text
from bridge.support.timeline import story
from bridge.web_security import Viewer, login_required, viewer

ATTENTION = ("needs_attention", "not_found")


def _action(action_id: str) -> ActionRecord:
    """The action, if it exists and the viewer may see its shop; 404 otherwise."""
    found = services().storage.load_action(action_id)
    if found is None or not viewer().may_see(found.shop):
        abort(404)
    return found


def _who(person: Viewer) -> str:
    return f"merchant of {person.shop}" if person.is_merchant else person.name


@blueprint.post("/actions/<action_id>/handled")
@login_required
def handled(action_id: str) -> ResponseReturnValue:
    """Mark an action of the needs-attention queue handled, with a note saying how."""
    action = _action(action_id)
    note = request.form.get("note", "").strip()
    if action.outcome not in ATTENTION:
        flash("Only actions that need attention or were not found can be marked handled.")
    elif not note:
        flash("Say in a note how it was handled.")
    elif SupportRecords(services().storage.engine).mark_handled(
        action.id, _who(viewer()), note, services().clock()
    ):
        flash(f"Marked {action.order_name or action.order_id} handled.")
    else:
        flash("It was already marked handled.")
    if request.form.get("back") == "order":
        return redirect(_order_url(action))
    return redirect(url_for("support.attention"))


@blueprint.get("/actions/<action_id>/reevaluate")
@login_required
def reevaluate_preview(action_id: str) -> ResponseReturnValue:
    """What re-running the action would do now, read from Gelato; nothing is changed."""
    return _preview_page(preview(services(), _action(action_id)))


@blueprint.post("/actions/<action_id>/reevaluate")
@login_required
def reevaluate_run(action_id: str) -> ResponseReturnValue:
    """Start a new action redoing this one, if Gelato still shows what the preview showed."""
    action = _action(action_id)
    result = confirm(services(), action, request.form.get("fingerprint", ""), _who(viewer()))
    if isinstance(result, Started):
        flash(f"Re-evaluation started as action {result.action_id}.")
        return redirect(f"{_order_url(action)}#action-{result.action_id}")
    changed = result.runnable
    return _preview_page(result, changed=changed), 409


def _preview_page(found: Preview, changed: bool = False) -> str:
    return render_template(
        "support/reevaluate.html", preview=found, action=found.action, changed=changed
    )


@blueprint.get("/orders/<shop>/<order_id>/ticket.<extension>")
@login_required
def order_ticket(shop: str, order_id: str, extension: str) -> ResponseReturnValue:
    """The ticket for Gelato support, as a download: `.txt` or `.json`."""
    if extension not in ("txt", "json") or not viewer().may_see(shop):
        abort(404)
    document = story(services().synclog, shop, order_id, queries().notes)
    if document is None:
        abort(404)
    made = ticket(document, services().clock())
    name = f"gelato-ticket-{(document['order_name'] or order_id).lstrip('#')}.{extension}"
    if extension == "json":
        body, mimetype = json.dumps(made, indent=2, ensure_ascii=False), "application/json"
    else:
        body, mimetype = ticket_text(made), "text/plain"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{_safe(name)}"'
    return response


def _order_url(action: ActionRecord) -> str:
    return url_for("support.order", shop=action.shop, order_id=action.order_id)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
