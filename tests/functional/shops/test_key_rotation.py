"""Rotating BRIDGE_ENCRYPTION_KEY: every shop keeps working, and the old key can be dropped."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet

from bridge.app import services_of
from tests.functional.conftest import Sandbox
from tests.functional.shops.conftest import ENCRYPTION_KEY, every_value
from tests.functional.shops.test_installed_shop import ORDER, cancel, installed_with_key, seed
from tests.support.install import MERCHANT_GELATO_KEY, MERCHANT_SHOP, OTHER_SHOP, form, install
from tests.support.worker import drain


def test_rotate_keys_re_encrypts_every_secret_and_every_shop_keeps_working(
    make_shop_app: Any, gelato: Sandbox
) -> None:
    old_app = make_shop_app()
    installed_with_key(old_app, old_app.test_client())
    other = old_app.test_client()
    landed = other.get(install(other, OTHER_SHOP).headers["Location"])
    other.post(
        f"/shops/{OTHER_SHOP}/gelato-key", data=form(landed, gelato_api_key=MERCHANT_GELATO_KEY)
    )
    sealed_before = {v for t, c, v in every_value(old_app) if c.endswith("_encrypted")}
    new_key = Fernet.generate_key().decode()

    both = make_shop_app(encryption_keys=(new_key, ENCRYPTION_KEY))
    result = both.test_cli_runner().invoke(args=["rotate-keys"])
    new_only = make_shop_app(encryption_keys=(new_key,))
    seed(gelato)
    cancel(new_only.test_client())
    drain(new_only)

    assert result.exit_code == 0, result.output
    assert "re-encrypted 6 secret(s)" in result.output
    sealed_after = {v for t, c, v in every_value(new_only) if c.endswith("_encrypted")}
    assert len(sealed_after) == 6
    assert sealed_after.isdisjoint(sealed_before)
    for shop in (MERCHANT_SHOP, OTHER_SHOP):
        loaded = services_of(new_only).shops.load(shop)
        assert loaded is not None
        assert loaded.gelato_api_key == MERCHANT_GELATO_KEY
    document = services_of(new_only).synclog.order(MERCHANT_SHOP, str(ORDER))
    (action,) = document["actions"]
    assert action["outcome"] == "cancelled"
    assert action["report"]["state"] == "done"
