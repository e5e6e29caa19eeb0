"""Integration tests run the real Prefect engine against a temporary server and database."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session (starting one costs seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def asserting_events_worker(monkeypatch):
    """Prefect's own in-memory events client (as in prefect.testing.fixtures): emitted events are kept to assert on."""
    from prefect.events.clients import AssertingEventsClient
    from prefect.events.worker import EventsWorker

    worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)
    try:
        yield worker
    finally:
        worker.drain()


@pytest.fixture(scope="session")
def s3():
    """One local S3-compatible server (moto, a real HTTP process on 127.0.0.1) per test session."""
    from shriven.testing.object_store import s3_server

    with s3_server() as server:
        yield server


@pytest.fixture
def s3_env(s3, monkeypatch):
    """Point S3 clients at the local server and give the test a bucket of its own; returns its URL."""
    import uuid

    from shriven.testing.object_store import make_bucket

    for key, value in s3.environment.items():
        monkeypatch.setenv(key, value)
    bucket = f"shriven-{uuid.uuid4().hex[:12]}"
    make_bucket(bucket)
    return f"s3://{bucket}"
