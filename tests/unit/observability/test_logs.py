"""Structured logs: one JSON object per line, correlation ids per context, secrets never written."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import uuid
from collections.abc import Iterator

import pytest

from shriven.observability.logs import (
    JsonFormatter,
    configure_json_logging,
    correlation_scope,
    current_correlation_id,
    new_correlation_id,
    redact,
    register_secret,
)

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJ0cmFkZXIiLCJyb2xlIjoiYWRtaW4ifQ"
    ".c2lnbmF0dXJlLWJ5dGVz_-x"
)


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger with the JSON handler writing to a buffer."""
    name = f"test.logs.{uuid.uuid4().hex}"
    stream = io.StringIO()
    configure_json_logging("test-component", stream=stream, logger_names=(name,))
    logger = logging.getLogger(name)
    logger.propagate = False
    yield logger, stream
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_line_is_one_json_object_with_the_fixed_fields(log):
    logger, stream = log
    logger.info("hello %s", "world")
    logger.warning("second")
    first, second = lines(stream)
    assert first["message"] == "hello world"
    assert first["level"] == "INFO"
    assert first["logger"] == logger.name
    assert first["component"] == "test-component"
    assert first["ts"].endswith("Z")
    assert len(first["ts"]) == len("2026-01-05T13:30:00.123Z")
    assert "correlation_id" not in first
    assert second["level"] == "WARNING"


def test_timestamp_is_rfc3339_utc_with_milliseconds():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.created = 1767619800.1239  # 2026-01-05 13:30:00.1239 UTC
    entry = json.loads(JsonFormatter("c").format(record))
    assert entry["ts"] == "2026-01-05T13:30:00.123Z"


def test_new_correlation_ids_are_16_hex_chars_and_differ():
    ids = {new_correlation_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


def test_correlation_id_inside_a_scope_and_absent_outside(log):
    logger, stream = log
    with correlation_scope("abcdef0123456789") as cid:
        assert cid == "abcdef0123456789"
        logger.info("inside")
    logger.info("outside")
    inside, outside = lines(stream)
    assert inside["correlation_id"] == "abcdef0123456789"
    assert "correlation_id" not in outside
    assert current_correlation_id() is None


def test_scope_without_id_creates_one_and_nested_scopes_restore():
    with correlation_scope() as outer:
        assert len(outer) == 16
        with correlation_scope("inner-id") as inner:
            assert current_correlation_id() == inner == "inner-id"
        assert current_correlation_id() == outer
    assert current_correlation_id() is None


def test_scope_restores_after_an_exception():
    with pytest.raises(RuntimeError), correlation_scope("will-raise"):
        raise RuntimeError("boom")
    assert current_correlation_id() is None


def test_threads_keep_their_own_ids(log):
    logger, stream = log
    barrier = threading.Barrier(4)

    def work(i: int) -> None:
        with correlation_scope(f"thread-{i}"):
            barrier.wait()  # all four scopes are open at once
            logger.info("from %d", i)
            barrier.wait()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = {entry["message"]: entry["correlation_id"] for entry in lines(stream)}
    assert seen == {f"from {i}": f"thread-{i}" for i in range(4)}


def test_asyncio_tasks_keep_their_own_ids(log):
    logger, stream = log

    async def task(i: int, started: asyncio.Event, go: asyncio.Event) -> str | None:
        with correlation_scope(f"task-{i}"):
            started.set()
            await go.wait()  # interleave with the other tasks
            logger.info("task %d", i)
            return current_correlation_id()

    async def main() -> list[str | None]:
        go = asyncio.Event()
        events = [asyncio.Event() for _ in range(3)]
        tasks = [asyncio.create_task(task(i, events[i], go)) for i in range(3)]
        for e in events:
            await e.wait()
        go.set()
        return await asyncio.gather(*tasks)

    with correlation_scope("parent"):
        assert asyncio.run(main()) == ["task-0", "task-1", "task-2"]
        assert current_correlation_id() == "parent"
    seen = {entry["message"]: entry["correlation_id"] for entry in lines(stream)}
    assert seen == {f"task {i}": f"task-{i}" for i in range(3)}


def test_extra_fields_are_kept_when_json_serialisable(log):
    logger, stream = log
    logger.info("order", extra={"order_id": 42, "symbol": "HALO", "tags": ["a"], "obj": object()})
    (entry,) = lines(stream)
    assert entry["order_id"] == 42
    assert entry["symbol"] == "HALO"
    assert entry["tags"] == ["a"]
    assert "obj" not in entry


def test_exceptions_are_serialised_as_text(log):
    logger, stream = log
    try:
        raise ValueError("bad value")
    except ValueError:
        logger.exception("failed")
    (entry,) = lines(stream)
    assert entry["level"] == "ERROR"
    assert "Traceback" in entry["exception"]
    assert "ValueError: bad value" in entry["exception"]


def test_registered_secret_is_redacted_from_message_args_extras_and_traceback(log):
    logger, stream = log
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    register_secret(secret)
    logger.info(f"inline {secret}")
    logger.info("as arg %s and %r", secret, {"password": secret})
    logger.info("extra", extra={"dsn": f"postgres://u:{secret}@db"})
    try:
        raise RuntimeError(f"connect failed with {secret}")
    except RuntimeError:
        logger.exception("traceback")
    text = stream.getvalue()
    assert secret not in text
    entries = lines(stream)
    assert entries[0]["message"] == "inline ***"
    assert entries[1]["message"] == "as arg *** and {'password': '***'}"
    assert entries[2]["dsn"] == "postgres://u:***@db"
    assert "connect failed with ***" in entries[3]["exception"]


def test_short_secrets_are_ignored():
    register_secret("abc")
    register_secret("")
    assert redact("abc abcdef abc") == "abc abcdef abc"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
        ("header bearer tok123, next", "header bearer ***, next"),
        (f"token={JWT} ok", "token=*** ok"),
        ("key sqk_live_9f8e7d6c5b4a rest", "key *** rest"),
        ("nothing to hide here", "nothing to hide here"),
        ("eyJ alone is not a JWT", "eyJ alone is not a JWT"),
    ],
)
def test_patterns_are_redacted(text, expected):
    assert redact(text) == expected


def test_tokens_are_redacted_from_args_and_tracebacks(log):
    logger, stream = log
    logger.warning("request with %s", f"Bearer {JWT}")
    try:
        raise PermissionError(f"rejected key sqk_abcdef123456 and {JWT}")
    except PermissionError:
        logger.exception("auth")
    text = stream.getvalue()
    assert JWT not in text
    assert "sqk_abcdef123456" not in text
    first, second = lines(stream)
    assert first["message"] == "request with Bearer ***"
    assert "rejected key *** and ***" in second["exception"]


def test_configure_is_idempotent_and_replaces_its_handler():
    name = f"test.logs.{uuid.uuid4().hex}"
    logger = logging.getLogger(name)
    logger.propagate = False
    other = logging.NullHandler()
    logger.addHandler(other)
    first_stream, second_stream = io.StringIO(), io.StringIO()
    configure_json_logging("a", stream=first_stream, logger_names=(name,))
    handler = configure_json_logging(
        "b", stream=second_stream, level=logging.DEBUG, logger_names=(name,)
    )
    try:
        assert logger.handlers == [other, handler]
        assert logger.level == logging.DEBUG
        logger.debug("once")
        assert first_stream.getvalue() == ""
        (entry,) = lines(second_stream)
        assert entry["component"] == "b"
    finally:
        logger.removeHandler(handler)
        logger.removeHandler(other)


def test_one_handler_serves_several_loggers():
    names = [f"test.logs.{uuid.uuid4().hex}" for _ in range(2)]
    stream = io.StringIO()
    handler = configure_json_logging("multi", stream=stream, logger_names=names)
    try:
        for name in names:
            logging.getLogger(name).propagate = False
            logging.getLogger(name).info("hi")
            assert logging.getLogger(name).handlers == [handler]
        assert [e["logger"] for e in lines(stream)] == names
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(handler)


def test_component_given_as_extra_wins(log):
    logger, stream = log
    logger.info("x", extra={"component": "override"})
    (entry,) = lines(stream)
    assert entry["component"] == "override"
