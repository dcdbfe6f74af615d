"""`flask support-user …` / `printbridge support-user …`: manage support users."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from bridge.app import services_of
from bridge.support.users import SupportUsers, UserError


def _users() -> SupportUsers:
    return SupportUsers(services_of(current_app).storage.engine)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        # One line: what a secret manager or `printf` pipes in.
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@click.group("support-user")
def support_user() -> None:
    """Create, list, disable and enable support console users."""


@support_user.command("create")
@with_appcontext
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create(email: str, password_stdin: bool) -> None:
    """Create a support user; the password is asked for with a hidden prompt."""
    try:
        user = _users().create(email, _password(password_stdin), services_of(current_app).clock())
    except UserError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"support user {user.email} created")


@support_user.command("set-password")
@with_appcontext
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password(email: str, password_stdin: bool) -> None:
    """Give a support user a new password."""
    try:
        _users().set_password(email, _password(password_stdin))
    except UserError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"password of {email.strip().lower()} changed")


@support_user.command("disable")
@with_appcontext
@click.argument("email")
def disable(email: str) -> None:
    """Disable a support user: signed out at their next request, no sign-in."""
    _set_disabled(email, True)


@support_user.command("enable")
@with_appcontext
@click.argument("email")
def enable(email: str) -> None:
    """Enable a disabled support user again."""
    _set_disabled(email, False)


@support_user.command("list")
@with_appcontext
def list_users() -> None:
    """List support users."""
    for user in _users().all():
        state = "disabled" if user.disabled else "enabled"
        last = user.last_sign_in_at.isoformat() if user.last_sign_in_at else "never"
        click.echo(f"{user.email}  {state}  created {user.created_at.isoformat()}  last {last}")


def _set_disabled(email: str, disabled: bool) -> None:
    try:
        _users().set_disabled(email, disabled)
    except UserError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"support user {email.strip().lower()} {'disabled' if disabled else 'enabled'}")
