"""`flask` / `printbridge` commands: migrate, worker, and the sync log of an order."""

from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from bridge.adapters.migrate import upgrade
from bridge.adapters.queue import SUBSCRIPTIONS_CHECK_ALL
from bridge.app import services_of
from bridge.config import Settings
from bridge.periodic import Schedule


def register(app: Flask) -> None:
    """Add printbridge's commands to the app's CLI."""
    app.cli.add_command(migrate)
    app.cli.add_command(worker)
    app.cli.add_command(order)
    app.cli.add_command(sweep)
    app.cli.add_command(subscriptions)
    app.cli.add_command(rotate_keys)


@click.command()
@with_appcontext
def migrate() -> None:
    """Create or upgrade the sync-log tables."""
    upgrade(services_of(current_app).storage.engine)
    click.echo("database is up to date")


@click.command()
@with_appcontext
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker (with its scheduler, for delayed retries, and the periodic sweep)."""
    from bridge.logs import configure_logging
    from bridge.periodic import PeriodicJobs
    from bridge.worker import make_worker

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    services = services_of(app)
    settings = services.settings
    configure_logging(settings.log, settings.secret_values)
    periodic = PeriodicJobs(
        services.queue, every=settings.sweep_interval_seconds, also=_subscription_checks(settings)
    )
    if not burst:
        periodic.start()
    try:
        make_worker(app).work(
            burst=burst, with_scheduler=True, logging_level=services.settings.log.level
        )
    finally:
        periodic.stop()
        services.metrics.close()


@click.command()
@with_appcontext
@click.argument("shop")
@click.argument("order_id")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document of the API.")
def order(shop: str, order_id: str, as_json: bool) -> None:
    """Print the sync log of one store order."""
    document = services_of(current_app).synclog.order(shop.lower(), order_id)
    if document is None:
        raise click.ClickException(f"nothing recorded for order {order_id} of {shop}")
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(f"{document['shop']} order {order_id}")
    for delivery in document["deliveries"]:
        duplicates = delivery["duplicates"]
        click.echo(
            f"  delivery {delivery['received_at']} {delivery['topic']} -> {delivery['result']}"
            + (f" (+{duplicates} duplicates)" if duplicates else "")
        )
    for action in document["actions"]:
        click.echo(
            f"  action {action['id']} {action['kind']}: {action['outcome'] or action['state']}"
            f" after {action['attempt_count']} attempt(s); report {action['report']['state']}"
        )
        click.echo(f"    {action['message'] or ''}")
        for part in action["gelato_orders"]:
            click.echo(
                f"    Gelato order {part.get('id')}: found {part.get('status_found')}, "
                f"{part.get('result')}"
            )
        for call in action["api_calls"]:
            status = call["status"] if call["status"] is not None else call["error"]
            click.echo(
                f"    {call['at']} {call['service']} {call['method']} {call['url']} -> {status}"
                f" ({call['duration_ms']:.0f} ms)"
            )


@click.command()
@with_appcontext
def sweep() -> None:
    """Queue again every action and report-back whose job the queue lost."""
    from bridge.sweep import sweep as run_sweep

    swept = run_sweep(services_of(current_app))
    click.echo(f"queued {len(swept.actions)} action(s), {len(swept.reports)} report-back(s)")


def _subscription_checks(settings: Settings) -> list[Schedule]:
    """The periodic check of installed shops' webhook subscriptions, once installing is set up."""
    from bridge.subscriptions import CHECK_NAME

    if settings.missing_for_install:
        return []
    return [Schedule(SUBSCRIPTIONS_CHECK_ALL, CHECK_NAME, settings.subscription_check_seconds)]


@click.command()
@with_appcontext
def subscriptions() -> None:
    """Check every installed shop's order webhooks and re-create missing ones."""
    from bridge.subscriptions import check_all

    checks = check_all(services_of(current_app))
    for check in checks:
        click.echo(str(check))
    click.echo(f"{len(checks)} installed shop(s) checked")
    if any(check.problem for check in checks):
        raise SystemExit(1)


@click.command("rotate-keys")
@with_appcontext
def rotate_keys() -> None:
    """Re-encrypt every stored token and Gelato key with the first BRIDGE_ENCRYPTION_KEY."""
    from bridge.adapters.crypto import CipherError

    try:
        count = services_of(current_app).shop_records.rotate_keys()
    except CipherError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"re-encrypted {count} secret(s) with the first key of BRIDGE_ENCRYPTION_KEY")
