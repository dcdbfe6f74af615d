"""Shop domains: exactly `<name>.myshopify.com`, lower-cased; anything else is refused."""

from __future__ import annotations

import pytest

from bridge.domain.shop_domain import normalize_shop_domain


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("their-store.myshopify.com", "their-store.myshopify.com"),
        ("Their-Store.MyShopify.com", "their-store.myshopify.com"),
        ("0shop.myshopify.com", "0shop.myshopify.com"),
        ("a.myshopify.com", "a.myshopify.com"),
    ],
)
def test_valid_shop_domains_are_accepted_in_lower_case(given: str, expected: str) -> None:
    assert normalize_shop_domain(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "evil.com",
        "shop.myshopify.com.evil.com",
        "shop.myshopify.com/path",
        "user@shop.myshopify.com",
        "https://shop.myshopify.com",
        "shop.myshopify.com/",
        "shop.myshopify.com.",
        "shop.myshopify.com:443",
        "shop.myshopify.com\n",
        "shop.myshopify.com%0a",
        " shop.myshopify.com",
        "-shop.myshopify.com",
        "sh_op.myshopify.com",
        "sub.shop.myshopify.com",
        "shop.myshopifyxcom",
        "shop.shopify.com",
        "admin.shopify.com/store/shop",
        ".myshopify.com",
        "myshopify.com",
        "shop.myshopify.com?x=1",
        "shop.myshopify.com#frag",
        "shop\u212a.myshopify.com",  # Kelvin sign: lower-cases to an ASCII "k"
        "\uff53hop.myshopify.com",  # full-width s
        "",
        None,
        "a" * 250 + ".myshopify.com",
    ],
)
def test_bad_and_hostile_shop_domains_are_refused(given: str | None) -> None:
    assert normalize_shop_domain(given) is None
