"""Shops in SQL: install, uninstall, settings, and secrets that never leave it unencrypted.

Secrets are encrypted on the way in and decrypted only by the methods that say so
(`credentials`, `refresh_token`), for the worker and the merchant's settings page; `find`, which
the webhook path uses, reads no secret at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bridge.adapters.crypto import Cipher
from bridge.adapters.oauth import TokenGrant
from bridge.adapters.shop_values import ShopDefaults, Uninstalled
from bridge.adapters.tables import shops
from bridge.adapters.uninstalling import uninstall_shop

SECRET_COLUMNS = ("access_token_encrypted", "refresh_token_encrypted", "gelato_api_key_encrypted")


@dataclass(frozen=True)
class ShopRecord:
    """A shop's row without its secrets: what is known about it and whether secrets are set."""

    domain: str
    scopes: str | None
    dry_run: bool
    order_reference: str
    allow_country_change: bool
    installed_at: datetime | None
    uninstalled_at: datetime | None
    has_access_token: bool
    has_refresh_token: bool
    has_gelato_key: bool
    gelato_key_updated_at: datetime | None
    access_token_expires_at: datetime | None
    refresh_token_expires_at: datetime | None
    token_generation: int

    @property
    def installed(self) -> bool:
        """Installed through OAuth and not uninstalled since."""
        return self.installed_at is not None and self.uninstalled_at is None


@dataclass(frozen=True)
class Credentials:
    """A shop's decrypted store access token and Gelato key."""

    access_token: str | None = field(repr=False)
    gelato_api_key: str | None = field(repr=False)


_RECORD_COLUMNS = (
    shops.c.domain,
    shops.c.scopes,
    shops.c.dry_run,
    shops.c.order_reference,
    shops.c.allow_country_change,
    shops.c.installed_at,
    shops.c.uninstalled_at,
    shops.c.access_token_encrypted.is_not(None).label("has_access_token"),
    shops.c.refresh_token_encrypted.is_not(None).label("has_refresh_token"),
    shops.c.gelato_api_key_encrypted.is_not(None).label("has_gelato_key"),
    shops.c.gelato_key_updated_at,
    shops.c.access_token_expires_at,
    shops.c.refresh_token_expires_at,
    shops.c.token_generation,
)


class ShopRecords:
    """Reads and writes the shops table; every method is one short transaction."""

    def __init__(self, engine: Engine, cipher: Cipher) -> None:
        self.engine = engine
        self.cipher = cipher
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._select_record = sa.select(*_RECORD_COLUMNS)

    def find(self, shop: str) -> ShopRecord | None:
        """The shop's row without secrets (nothing is decrypted), or None."""
        with self.engine.connect() as connection:
            row = connection.execute(
                self._select_record.where(shops.c.domain == shop)
            ).one_or_none()
        return None if row is None else _record(row._mapping)

    def credentials(self, shop: str) -> tuple[ShopRecord, Credentials] | None:
        """The shop's row and its decrypted access token and Gelato key, or None."""
        query = sa.select(
            *_RECORD_COLUMNS, shops.c.access_token_encrypted, shops.c.gelato_api_key_encrypted
        ).where(shops.c.domain == shop)
        with self.engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        if row is None:
            return None
        values = row._mapping
        return _record(values), Credentials(
            access_token=self._open(values["access_token_encrypted"]),
            gelato_api_key=self._open(values["gelato_api_key_encrypted"]),
        )

    def refresh_token(self, shop: str) -> str | None:
        """The shop's decrypted refresh token, or None."""
        with self.engine.connect() as connection:
            sealed = connection.execute(
                sa.select(shops.c.refresh_token_encrypted).where(shops.c.domain == shop)
            ).scalar_one_or_none()
        return self._open(sealed)

    def installed_domains(self) -> list[str]:
        """Every shop installed now, in order."""
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    sa.select(shops.c.domain)
                    .where(shops.c.installed_at.is_not(None), shops.c.uninstalled_at.is_(None))
                    .order_by(shops.c.domain)
                ).scalars()
            )

    def install(self, shop: str, grant: TokenGrant, now: datetime, defaults: ShopDefaults) -> None:
        """Store a new installation's tokens; a reinstalled shop keeps its settings."""
        tokens = self._token_values(grant, now)
        statement = self._insert(shops).values(
            domain=shop,
            **tokens,
            token_generation=1,
            dry_run=defaults.dry_run,
            order_reference=defaults.order_reference,
            allow_country_change=defaults.allow_country_change,
            installed_at=now,
            uninstalled_at=None,
            updated_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[shops.c.domain],
            set_={
                **tokens,
                "token_generation": shops.c.token_generation + 1,
                "installed_at": now,
                "uninstalled_at": None,
                "updated_at": now,
            },
        )
        with self.engine.begin() as connection:
            connection.execute(statement)

    def uninstall(
        self, shop: str, at: datetime, now: datetime, defaults: ShopDefaults
    ) -> Uninstalled:
        """Delete the shop's credentials, mark it uninstalled, end its waiting actions."""
        return uninstall_shop(self.engine, shop, at, now, defaults)

    def save_settings(
        self,
        shop: str,
        now: datetime,
        *,
        dry_run: bool,
        order_reference: str,
        allow_country_change: bool,
    ) -> bool:
        """Change an installed shop's settings; False if it is not installed."""
        return self._update_installed(
            shop,
            dry_run=dry_run,
            order_reference=order_reference,
            allow_country_change=allow_country_change,
            updated_at=now,
        )

    def save_gelato_key(self, shop: str, key: str, now: datetime) -> bool:
        """Store an installed shop's Gelato key, encrypted; False if it is not installed."""
        return self._update_installed(
            shop,
            gelato_api_key_encrypted=self.cipher.encrypt(key),
            gelato_key_updated_at=now,
            updated_at=now,
        )

    def replace_tokens(
        self, shop: str, seen_generation: int, grant: TokenGrant, now: datetime
    ) -> bool:
        """Store refreshed tokens unless another process stored newer ones since `seen_generation`.

        The conditional UPDATE is what keeps two workers refreshing at once from losing the
        rotated refresh token: exactly one of them writes, the other reads the winner's.
        """
        with self.engine.begin() as connection:
            changed = connection.execute(
                shops.update()
                .where(
                    shops.c.domain == shop,
                    shops.c.token_generation == seen_generation,
                    shops.c.uninstalled_at.is_(None),
                )
                .values(
                    **self._token_values(grant, now),
                    token_generation=seen_generation + 1,
                    updated_at=now,
                )
            ).rowcount
        return bool(changed)

    def rotate_keys(self) -> int:
        """Re-encrypt every stored secret with the first key; the number of secrets rewritten."""
        with self.engine.connect() as connection:
            domains = list(connection.execute(sa.select(shops.c.domain)).scalars())
        rotated = 0
        for domain in domains:
            with self.engine.begin() as connection:
                # One row at a time, locked: a token refreshed meanwhile is not overwritten.
                row = connection.execute(
                    sa.select(*(shops.c[name] for name in SECRET_COLUMNS))
                    .where(shops.c.domain == domain)
                    .with_for_update()
                ).one_or_none()
                if row is None:
                    continue
                values = {
                    name: self.cipher.rotate(sealed)
                    for name, sealed in row._mapping.items()
                    if sealed is not None
                }
                if values:
                    connection.execute(
                        shops.update().where(shops.c.domain == domain).values(**values)
                    )
                    rotated += len(values)
        return rotated

    def _update_installed(self, shop: str, **values: Any) -> bool:
        with self.engine.begin() as connection:
            changed = connection.execute(
                shops.update()
                .where(
                    shops.c.domain == shop,
                    shops.c.installed_at.is_not(None),
                    shops.c.uninstalled_at.is_(None),
                )
                .values(**values)
            ).rowcount
        return bool(changed)

    def _token_values(self, grant: TokenGrant, now: datetime) -> dict[str, Any]:
        return {
            "scopes": grant.scopes,
            "access_token_encrypted": self.cipher.encrypt(grant.access_token),
            "access_token_expires_at": _after(now, grant.expires_in),
            "refresh_token_encrypted": (
                self.cipher.encrypt(grant.refresh_token) if grant.refresh_token else None
            ),
            "refresh_token_expires_at": _after(now, grant.refresh_token_expires_in),
        }

    def _open(self, sealed: str | None) -> str | None:
        return None if sealed is None else self.cipher.decrypt(sealed)


def _after(now: datetime, seconds: int | None) -> datetime | None:
    return None if seconds is None else now + timedelta(seconds=seconds)


def _record(values: Any) -> ShopRecord:
    return ShopRecord(**{name: values[name] for name in ShopRecord.__dataclass_fields__})
