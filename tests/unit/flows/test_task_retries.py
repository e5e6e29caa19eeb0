"""Tasks retry transient failures only: a bad input fails at once with its message."""

from __future__ import annotations

import duckdb
import pytest
from prefect.states import Failed

from tasks import retry_unless_bad_input


@pytest.mark.parametrize(
    "exc", [ValueError("bad day"), KeyError("unknown symbol 'NOPE'"), FileNotFoundError("x.csv"), TypeError("days")]
)
def test_bad_input_is_not_retried(exc) -> None:
    assert retry_unless_bad_input(None, None, Failed(data=exc)) is False


@pytest.mark.parametrize(
    "exc", [ConnectionError("reset"), TimeoutError("slow"), duckdb.IOException("database is locked"), OSError(5, "EIO")]
)
def test_transient_failures_are_retried(exc) -> None:
    assert retry_unless_bad_input(None, None, Failed(data=exc)) is True
