"""Signing in to the support console: CLI-made users, hashed passwords, signed sessions, CSRF."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.functional.console.conftest import (
    EMAIL,
    PASSWORD,
    create_user,
    csrf_of,
    post_form,
    sign_in,
)

PAGES = [
    "/support/",
    "/support/actions",
    "/support/actions?q=%231042",
    "/support/attention",
    "/support/orders/bridge-test.myshopify.com/1",
    "/support/orders/bridge-test.myshopify.com/1/ticket.txt",
    "/support/actions/0123456789abcdef0123456789abcdef",
    "/support/actions/0123456789abcdef0123456789abcdef/reevaluate",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_console_page_sends_a_visitor_to_sign_in_first(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/support/sign-in?next=")


def test_user_created_with_the_cli_signs_in_and_lands_where_they_were_going(
    app: Flask, client: FlaskClient
) -> None:
    result = create_user(app)
    assert result.exit_code == 0, result.output
    assert f"support user {EMAIL} created" in result.output

    token = csrf_of(client.get("/support/sign-in?next=/support/attention"))
    response = client.post(
        "/support/sign-in",
        data={"email": EMAIL.upper(), "password": PASSWORD, "csrf_token": token,
              "next": "/support/attention"},
    )  # fmt: skip

    assert response.status_code == 302
    assert response.headers["Location"] == "/support/attention"
    page = client.get("/support/attention")
    assert page.status_code == 200
    assert EMAIL in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("email", "password"), [(EMAIL, "wrong password here"), ("nobody@support.example", PASSWORD)]
)
def test_wrong_password_or_unknown_email_is_refused_in_the_same_words(
    app: Flask, client: FlaskClient, email: str, password: str
) -> None:
    create_user(app)

    response = sign_in(client, email, password)

    assert response.status_code == 401
    assert "do not match an enabled support user" in response.get_data(as_text=True)
    assert client.get("/support/").status_code == 302


def test_cli_prompts_for_the_password_twice_without_echo(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["support-user", "create", EMAIL], input=f"{PASSWORD}\n{PASSWORD}\n"
    )

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert "Repeat for confirmation" in result.output


def test_cli_refuses_a_short_password_and_a_taken_email(app: Flask) -> None:
    short = create_user(app, password="short")
    create_user(app)
    again = create_user(app)

    assert short.exit_code != 0
    assert "at least 12 characters" in short.output
    assert again.exit_code != 0
    assert "exists already" in again.output


def test_cli_lists_disables_enables_and_resets_passwords(app: Flask, client: FlaskClient) -> None:
    runner = app.test_cli_runner()
    create_user(app)

    assert "enabled" in runner.invoke(args=["support-user", "list"]).output
    assert runner.invoke(args=["support-user", "disable", EMAIL]).exit_code == 0
    assert sign_in(client).status_code == 401
    assert runner.invoke(args=["support-user", "enable", EMAIL]).exit_code == 0
    reset = runner.invoke(
        args=["support-user", "set-password", EMAIL, "--password-stdin"],
        input="a brand new passphrase\n",
    )
    assert reset.exit_code == 0, reset.output
    assert sign_in(client).status_code == 401
    assert sign_in(client, password="a brand new passphrase").status_code == 302
    assert (
        "no support user" in runner.invoke(args=["support-user", "disable", "x@y.example"]).output
    )


def test_disabled_user_is_signed_out_at_the_next_request(app: Flask, support: FlaskClient) -> None:
    assert support.get("/support/").status_code == 200

    app.test_cli_runner().invoke(args=["support-user", "disable", EMAIL])

    assert support.get("/support/").status_code == 302


def test_sign_in_without_the_forms_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    create_user(app)
    client.get("/support/sign-in")

    response = client.post("/support/sign-in", data={"email": EMAIL, "password": PASSWORD})

    assert response.status_code == 400
    assert client.get("/support/").status_code == 302


def test_sign_out_needs_the_csrf_token_and_ends_the_session(support: FlaskClient) -> None:
    assert support.post("/support/sign-out").status_code == 400
    assert support.get("/support/").status_code == 200

    response = post_form(support, "/support/sign-out", "/support/")

    assert response.status_code == 302
    assert support.get("/support/").status_code == 302


def test_a_tampered_session_cookie_signs_nobody_in(support: FlaskClient) -> None:
    cookie = support.get_cookie("session")
    assert cookie is not None
    payload, _, signature = cookie.value.rpartition(".")
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    support.set_cookie("session", forged)

    assert support.get("/support/").status_code == 302


def test_session_cookie_is_http_only_and_same_site(app: Flask, client: FlaskClient) -> None:
    create_user(app)

    response = sign_in(client)

    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_next_after_sign_in_never_leaves_the_site(app: Flask, client: FlaskClient) -> None:
    create_user(app)
    token = csrf_of(client.get("/support/sign-in"))

    response = client.post(
        "/support/sign-in",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": token,
              "next": "//evil.example/steal"},
    )  # fmt: skip

    assert response.headers["Location"] == "/support/"


def test_ten_failed_sign_ins_lock_the_email_for_a_while(app: Flask, client: FlaskClient) -> None:
    create_user(app)
    for _ in range(10):
        assert sign_in(client, password="not the password").status_code == 401

    response = sign_in(client)

    assert response.status_code == 401
    assert "Too many failed sign-ins" in response.get_data(as_text=True)


def test_pages_forbid_framing_scripts_and_caching(support: FlaskClient) -> None:
    response = support.get("/support/")

    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src" not in policy
    assert "default-src 'none'" in policy
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script" not in response.get_data(as_text=True)
