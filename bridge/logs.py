"""Logging for web and worker: text or JSON lines, the ids of the work at hand, no secrets.

Every line carries, when known, the delivery (webhook id), action, job and shop it is about:
the webhook view and the worker set them in a context variable around each delivery and job,
so any logger called inside picks them up. A redaction filter on the handler masks, in the
message and in tracebacks, every configured secret value, things shaped like tokens and keys,
the OAuth query parameters, and the values of address fields and e-mail addresses.

`logging_config()` is the one configuration: the worker applies it (`python -m bridge worker`)
and so does gunicorn, through `GunicornLogger` (gunicorn.conf.py's `logger_class`).
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from gunicorn import glogging

from bridge.adapters.redaction import REDACTED, redact_text
from bridge.config import LogSettings

CONTEXT_FIELDS = ("delivery_id", "action_id", "job_id", "shop")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

_NO_IDS: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("printbridge_log_context", default=_NO_IDS)


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Tag every line logged inside the block with these ids (and those bound inside it)."""
    token = _context.set({**_context.get(), **_given(ids)})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**ids: str | None) -> None:
    """Add ids to the current context, until the enclosing `log_context` ends."""
    _context.set({**_context.get(), **_given(ids)})


def context_ids() -> Mapping[str, str]:
    """The ids the current context carries."""
    return _context.get()


def _given(ids: Mapping[str, str | None]) -> dict[str, str]:
    return {name: str(value) for name, value in ids.items() if value is not None}


# What is masked whatever the configuration: secrets by their shape, and personal data.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Store access tokens and secrets (shpat_, shpca_, shpss_, shpua_, ...), Fernet tokens.
    (re.compile(r"\bshp[a-z]{2}_[A-Za-z0-9]{8,}"), REDACTED),
    (re.compile(r"\bgAAAAA[A-Za-z0-9_\-]{20,}=*"), REDACTED),
    # Credentials in headers, as printed by requests, curl or a dict.
    (
        re.compile(
            r"(?i)((?:authorization|x-api-key|x-shopify-access-token)['\"]?\s*[:=]\s*['\"]?)"
            r"(?:bearer\s+|basic\s+)?[^\s'\",}]+"
        ),
        r"\1" + REDACTED,
    ),
    # Secret-looking fields of JSON or a Python repr.
    (
        re.compile(
            r"(?i)(['\"]?\b[\w-]*(?:api[-_]?key|token|secret|password)['\"]?\s*[:=]\s*)"
            r"(['\"])(?:(?!\2).)*\2"
        ),
        r"\1\2" + REDACTED + r"\2",
    ),
    # The OAuth callback's and the merchant pages' signed query parameters.
    (
        re.compile(
            r"(?i)([?&](?:code|hmac|signature|access_token|id_token|session|state)=)[^&\s'\"]*"
        ),
        r"\1" + REDACTED,
    ),
    # Addresses: the values of address and name fields, and e-mail addresses anywhere.
    (
        re.compile(
            r"(?i)(['\"]?\b(?:address[_-]?(?:line)?[_-]?[12]|address|street|city|zip|"
            r"post[_-]?code|phone|e-?mail|first[_-]?name|last[_-]?name|company)['\"]?\s*[:=]\s*)"
            r"(['\"])(?:(?!\2).)*\2"
        ),
        r"\1\2" + REDACTED + r"\2",
    ),
    (re.compile(r"[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), REDACTED),
)
# Shorter values are not masked by value: they would mask ordinary words.
MIN_SECRET_LENGTH = 6


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret value, secret-shaped string and address value masked."""
    text = redact_text(text, (secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH))
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactionFilter(logging.Filter):
    """Masks secrets and addresses in a record, and tags it with the context's ids.

    Put on a handler, it sees every record the handler writes, whichever logger made it.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first: a secret that contains another is masked whole.
        self.secrets = tuple(sorted(set(secrets), key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_printbridge_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 -- a bad format string must not break the caller
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message, self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        setattr(record, "_printbridge_redacted", True)  # noqa: B010 -- not a LogRecord field
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids known, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                document[name] = value
        document["pid"] = record.process
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = record.stack_info
        return json.dumps(document, default=str)


class TextFormatter(logging.Formatter):
    """A plain line, with the ids known appended as `name=value`."""

    def __init__(self, fmt: str = TEXT_FORMAT, datefmt: str | None = None) -> None:
        super().__init__(fmt, datefmt)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        ids = [
            f"{name}={value}"
            for name in CONTEXT_FIELDS
            if (value := getattr(record, name, None)) is not None
        ]
        return f"{line} [{' '.join(ids)}]" if ids else line


def _utc(created: float) -> str:
    seconds = int(created)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (
        f".{int((created - seconds) * 1000):03d}Z"
    )


def formatter_for(log: LogSettings) -> logging.Formatter:
    """The formatter BRIDGE_LOG_FORMAT asks for."""
    return JsonFormatter() if log.format == "json" else TextFormatter()


def logging_config(log: LogSettings, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The `logging.config.dictConfig` of a printbridge process: one redacting handler."""
    formatter = (
        {"()": JsonFormatter} if log.format == "json" else {"()": TextFormatter, "fmt": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "redact": {"()": RedactionFilter, "secrets": tuple({*log.secrets, *secrets})},
        },
        "formatters": {"printbridge": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "printbridge",
                "filters": ["redact"],
            },
        },
        "root": {"level": log.level, "handlers": ["console"]},
        # Alembic announces its plugins at INFO each time a process loads the migrations.
        "loggers": {"alembic": {"level": "WARNING"}},
    }


def configure_logging(log: LogSettings, secrets: Iterable[str] = ()) -> None:
    """Apply `logging_config` to this process."""
    logging.config.dictConfig(logging_config(log, secrets))


class GunicornLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger with printbridge's configuration, set as gunicorn.conf.py's
    `logger_class`.

    Not `logconfig_dict`: with it, gunicorn writes an access log whether or not one was asked
    for. This keeps gunicorn's own choice of handlers (`--access-logfile`, `--error-logfile`),
    masks secrets on them, and formats them as JSON when BRIDGE_LOG_FORMAT=json; the app's
    own loggers get `logging_config()`.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        log = LogSettings.from_env(os.environ)
        configure_logging(log)
        redaction = RedactionFilter(log.secrets)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.addFilter(redaction)
                if log.format == "json":
                    handler.setFormatter(JsonFormatter())
