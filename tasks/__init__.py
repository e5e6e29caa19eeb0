"""Prefect tasks: thin, batch-sized wrappers (retries, logging, artifacts) around one core call each.

Retries are for transient failures (a network call, a file another process holds). A bad input
(an unknown symbol, an unreadable file, an invalid argument) fails the same way every time, so
tasks pass ``retry_condition_fn=retry_unless_bad_input``: it fails at once, with its message,
instead of after every retry delay.
"""

from __future__ import annotations

#: Exceptions that mean the input is wrong, not the world: retrying cannot help.
BAD_INPUT = (ValueError, KeyError, TypeError, FileNotFoundError, IsADirectoryError, NotADirectoryError)


def _exception_of(state) -> BaseException | None:
    data = state.data
    if isinstance(data, BaseException):
        return data
    try:
        value = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001 - an unreadable result: treat as transient
        return None
    return value if isinstance(value, BaseException) else None


def retry_unless_bad_input(task, task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: retry unless the failure is a :data:`BAD_INPUT` exception."""
    return not isinstance(_exception_of(state), BAD_INPUT)
