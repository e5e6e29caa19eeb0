"""Structured JSON logs with correlation ids and secret redaction, for every process of the platform.

One JSON object per line so that log shippers (and ``jq``) need no parsing rules; a correlation id
in a :class:`contextvars.ContextVar` so that the lines of one request or flow run can be joined
across threads and asyncio tasks; and a redacting filter so that a token that ends up in a message,
an argument or a traceback never reaches the log file.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any

__all__ = [
    "JsonFormatter",
    "RedactingFilter",
    "configure_json_logging",
    "correlation_scope",
    "current_correlation_id",
    "new_correlation_id",
    "redact",
    "register_secret",
]

#: What a redacted value is replaced with.
REDACTED = "***"
#: Registered secrets shorter than this are ignored: they would redact ordinary words.
MIN_SECRET_LENGTH = 6

_CORRELATION_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "shriven_correlation_id", default=None
)

#: Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "component", "correlation_id", "taskName"}

_PATTERNS = (
    # "Bearer <token>": keep the scheme, hide the credential.
    (re.compile(r"(?i)(\bbearer\s+)[^\s\"',;]+"), r"\1" + REDACTED),
    # JWT-looking strings: base64url header starting {"  (eyJ), payload and signature.
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    # Platform API keys.
    (re.compile(r"\bsqk_[A-Za-z0-9_-]+"), REDACTED),
)


class _SecretValues:
    """The registered secret values and one regex over all of them (longest first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self.pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            ordered = sorted(self._values, key=len, reverse=True)
            self.pattern = re.compile("|".join(re.escape(v) for v in ordered))


_SECRETS = _SecretValues()


def new_correlation_id() -> str:
    """A fresh random id (16 hex chars) to tie together the log lines of one unit of work."""
    return secrets.token_hex(8)


def current_correlation_id() -> str | None:
    """The correlation id of the running context (thread or asyncio task), if any."""
    return _CORRELATION_ID.get()


@contextmanager
def correlation_scope(correlation_id: str | None = None) -> Iterator[str]:
    """Run a block under a correlation id (given or new); the previous id comes back after it."""
    value = correlation_id or new_correlation_id()
    token = _CORRELATION_ID.set(value)
    try:
        yield value
    finally:
        _CORRELATION_ID.reset(token)


def register_secret(value: str) -> None:
    """Make every later log line hide ``value``; values under 6 chars are ignored."""
    _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with registered secrets, bearer tokens, JWTs and ``sqk_`` keys replaced by ``***``."""
    pattern = _SECRETS.pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for regex, replacement in _PATTERNS:
        text = regex.sub(replacement, text)
    return text


def _format_exception(record: logging.LogRecord) -> str | None:
    if record.exc_text:
        return record.exc_text
    if record.exc_info and record.exc_info[0] is not None:
        return "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    return None


class RedactingFilter(logging.Filter):
    """Redacts secrets from a record's message, arguments, string extras and exception text.

    The message is rendered once and its arguments dropped, so an argument of any type (a dict
    holding a token, an object whose ``str`` shows one) is covered.
    """

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102 - logging API
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let logging report it as usual
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        exception = _format_exception(record)
        if exception is not None:
            record.exc_text = redact(exception)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRIBUTES and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class _ContextFilter(logging.Filter):
    """Stamps the component and the caller's correlation id on each record (emit runs in the caller's context)."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "component", None):
            record.component = self.component
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = _CORRELATION_ID.get()
        return True


def _rfc3339(created: float) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, component, correlation_id, extras."""

    def __init__(self, component: str | None = None) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:  # noqa: D102 - logging API
        entry: dict[str, Any] = {
            "ts": _rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "component": getattr(record, "component", None) or self.component,
        }
        correlation_id = getattr(record, "correlation_id", None) or _CORRELATION_ID.get()
        if correlation_id is not None:
            entry["correlation_id"] = correlation_id
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry and _json_safe(value):
                entry[key] = value
        exception = _format_exception(record)
        if exception is not None:
            entry["exception"] = exception
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(
    component: str,
    *,
    level: int = logging.INFO,
    stream: IO[str] | None = None,
    logger_names: Sequence[str] = ("",),
) -> logging.Handler:
    """Send the named loggers to one JSON, redacting handler; calling again replaces it.

    Name loggers that do not propagate into each other (the root ``""`` already receives every
    logger that propagates), or their lines are written twice.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler._shriven_json = True  # type: ignore[attr-defined]
    handler.addFilter(_ContextFilter(component))
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter(component))
    for name in logger_names:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "_shriven_json", False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
    return handler
