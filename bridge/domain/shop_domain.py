"""Shop domains: the one form printbridge accepts, `<name>.myshopify.com`, nothing else."""

from __future__ import annotations

import re

# Lower-case letters, digits and hyphens, starting with a letter or digit, then the one
# suffix. fullmatch() anchors both ends (unlike `$`, which also matches before a newline).
SHOP_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com")
MAX_LENGTH = 255


def normalize_shop_domain(value: str | None) -> str | None:
    """The shop domain in lower case, or None when it is not exactly a myshopify.com host.

    No scheme, port, path, user, trailing dot or extra label is stripped or tolerated: an
    input that needs cleaning is not what the store sends, so it is refused.
    """
    if not value or len(value) > MAX_LENGTH:
        return None
    lowered = value.lower()
    # str.lower() maps a few non-ASCII letters to ASCII ones (the Kelvin sign to "k"): only
    # an input that was ASCII to begin with may pass.
    if not value.isascii() or SHOP_DOMAIN.fullmatch(lowered) is None:
        return None
    return lowered
