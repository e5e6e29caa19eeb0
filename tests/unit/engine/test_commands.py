"""The gateway's command log, and a paper engine acting on it exactly once across a restart."""

from __future__ import annotations

import multiprocessing as mp
import os
import tomllib
from datetime import date

import msgspec
import pytest

from shriven.config import Settings
from shriven.engine.commands import (
    CommandKind,
    CommandLog,
    IdempotencyConflict,
    InvalidCommand,
    commands_path,
    gateway_order_id,
)
from shriven.engine.status import read_status, status_path
from shriven.engine.wiring import open_paper_session
from shriven.marketdata.synthetic import session_window
from shriven.model.enums import OrderState, OrderType, Side
from tests.conftest import SMALL_CONFIG

DAY = date(2026, 1, 5)
SPEED = 3600.0


def _log(tmp_path) -> CommandLog:
    ticks = iter(range(1, 10**6))
    return CommandLog(tmp_path / "acct" / "commands.jsonl", clock_ns=lambda: next(ticks))


def test_submit_is_durable_and_a_retry_returns_the_same_command(tmp_path) -> None:
    log = _log(tmp_path)
    first, created = log.submit_order(principal="alice", idempotency_key="k1", symbol="ACME", side=Side.BUY, quantity=2, price=10.0)
    assert created
    assert first.offset == 0
    assert first.client_order_id == gateway_order_id("alice", "k1")
    again, created = log.submit_order(principal="alice", idempotency_key="k1", symbol="ACME", side=Side.BUY, quantity=2, price=10.0)
    assert not created
    assert again == first
    # another process (a new object on the same file) sees it, and the key is per principal
    other = CommandLog(log.path)
    assert other.get("alice", "k1") == first
    bob, created = other.submit_order(principal="bob", idempotency_key="k1", symbol="ACME", side=Side.SELL, quantity=1, order_type=OrderType.MARKET)
    assert created
    assert bob.offset == 1
    assert bob.client_order_id != first.client_order_id
    assert len(log) == 2
    assert oct(os.stat(log.path).st_mode & 0o777) == oct(0o600)


def test_same_key_for_a_different_request_is_a_conflict(tmp_path) -> None:
    log = _log(tmp_path)
    log.submit_order(principal="alice", idempotency_key="k1", symbol="ACME", side=Side.BUY, quantity=2, price=10.0)
    with pytest.raises(IdempotencyConflict, match="already used"):
        log.submit_order(principal="alice", idempotency_key="k1", symbol="ACME", side=Side.BUY, quantity=3, price=10.0)
    assert len(log) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantity": 0}, "positive finite"),
        ({"quantity": float("nan")}, "positive finite"),
        ({"price": None}, "needs a positive finite price"),
        ({"price": -1.0}, "needs a positive finite price"),
        ({"order_type": OrderType.MARKET}, "takes no price"),
        ({"symbol": " "}, "symbol is required"),
        ({"idempotency_key": "has space"}, "printable"),
        ({"idempotency_key": "x" * 129}, "printable"),
    ],
)
def test_invalid_commands_are_refused_and_nothing_is_logged(tmp_path, kwargs, message) -> None:
    log = _log(tmp_path)
    args = {"principal": "alice", "idempotency_key": "k", "symbol": "ACME", "side": Side.BUY, "quantity": 1.0, "price": 5.0, **kwargs}
    with pytest.raises(InvalidCommand, match=message):
        log.submit_order(**args)
    assert len(log) == 0
    assert not log.path.exists()


def test_a_torn_tail_is_cut_by_the_next_writer_and_never_read(tmp_path) -> None:
    log = _log(tmp_path)
    log.submit_order(principal="a", idempotency_key="k1", symbol="ACME", side=Side.BUY, quantity=1, price=1.0)
    with open(log.path, "ab") as f:
        f.write(b'{"offset":1,"ts":5,"kind":"submit_ord')  # a writer died mid-line, before its fsync
    reader = CommandLog(log.path)
    assert [c.offset for c in reader.read_after(-1)] == [0]
    cmd, created = CommandLog(log.path).cancel_order(principal="a", idempotency_key="k2", client_order_id="gw-x")
    assert created
    assert cmd.offset == 1
    assert cmd.kind == CommandKind.CANCEL_ORDER
    assert [c.kind for c in reader.read_after(0)] == [CommandKind.CANCEL_ORDER]
    assert log.path.read_bytes().count(b"\n") == 2


def test_read_after_follows_appends_and_can_go_back(tmp_path) -> None:
    log = _log(tmp_path)
    reader = CommandLog(log.path)
    assert reader.read_after(-1) == []
    for i in range(3):
        log.submit_order(principal="a", idempotency_key=f"k{i}", symbol="ACME", side=Side.BUY, quantity=1, price=1.0)
    assert [c.offset for c in reader.read_after(-1)] == [0, 1, 2]
    assert reader.read_after(2) == []
    log.submit_order(principal="a", idempotency_key="k3", symbol="ACME", side=Side.BUY, quantity=1, price=1.0)
    assert [c.offset for c in reader.read_after(2)] == [3]
    assert [c.offset for c in reader.read_after(0)] == [1, 2, 3]  # a restart re-reads from its journal's offset


def _append_many(path: str, who: str, n: int) -> None:
    log = CommandLog(path)
    for i in range(n):
        log.submit_order(principal=who, idempotency_key=f"k{i}", symbol="ACME", side=Side.BUY, quantity=1, price=1.0)


def test_writers_in_several_processes_lose_nothing(tmp_path) -> None:
    path = str(tmp_path / "commands.jsonl")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(path, who, 40)) for who in ("a", "b", "c")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    commands = CommandLog(path).read_after(-1)
    assert [c.offset for c in commands] == list(range(120))
    assert {(c.principal, c.idempotency_key) for c in commands} == {(w, f"k{i}") for w in "abc" for i in range(40)}


# -- the engine side ---------------------------------------------------------------------------


def _settings(root) -> Settings:
    raw = tomllib.loads(SMALL_CONFIG)
    raw["trading"] = {"journal_fsync": False}
    return msgspec.convert({**raw, "data_dir": str(root)}, Settings)


def test_paper_engine_acts_on_each_command_once_across_a_restart(tmp_path) -> None:
    s = _settings(tmp_path)
    log = CommandLog(commands_path(s.trading_dir, s.trading.account))
    open_ns, _ = session_window(s, DAY)
    first = open_paper_session(s, day=DAY, speed=SPEED, strategies=[])
    below = round(s.symbol("ACME").price * 0.95, 2)  # inside the 10% price collar, under the market
    buy, _ = log.submit_order(principal="alice", idempotency_key="buy-1", symbol="ACME", side=Side.BUY, quantity=3, order_type=OrderType.MARKET)
    rest, _ = log.submit_order(principal="alice", idempotency_key="rest-1", symbol="ACME", side=Side.BUY, quantity=1, price=below)
    ghost, _ = log.submit_order(principal="alice", idempotency_key="ghost-1", symbol="NOPE", side=Side.BUY, quantity=1, price=1.0)
    first.run(until_ns=open_ns + 10 * 60 * 10**9, poll_s=0.01, compact=False)
    oms = first.stack.oms
    assert oms.last_command_offset == 2
    assert oms.get(buy.client_order_id).state == OrderState.FILLED
    assert oms.get(rest.client_order_id).state == OrderState.ACCEPTED  # resting far below the market
    denied = oms.get(ghost.client_order_id)
    assert denied.state == OrderState.DENIED
    assert denied.reason == "UNKNOWN_SYMBOL"
    assert first.stack.portfolio.position("ACME") == 3.0
    status = read_status(status_path(s.trading_dir, s.trading.account))
    assert status is not None
    assert status.last_command_offset == 2
    by_id = {o.client_order_id: o for o in status.orders}
    assert by_id[rest.client_order_id].state == "accepted"
    assert by_id[buy.client_order_id].state == "filled"
    assert by_id[buy.client_order_id].avg_fill_price > 0
    assert {p["symbol"]: p["quantity"] for p in status.positions} == {"ACME": 3.0}

    log.cancel_order(principal="alice", idempotency_key="cancel-1", client_order_id=rest.client_order_id)
    second = open_paper_session(s, day=DAY, speed=SPEED, strategies=[])
    second.run(until_ns=open_ns + 20 * 60 * 10**9, poll_s=0.01, compact=False)
    oms = second.stack.oms
    assert oms.last_command_offset == 3
    assert second.engine.stats.commands == 1  # only the cancel: the three before were not acted on again
    assert oms.get(rest.client_order_id).state == OrderState.CANCELED
    assert second.stack.portfolio.position("ACME") == 3.0


def test_indexed_after_serves_any_offset_from_memory(tmp_path) -> None:
    log = _log(tmp_path)
    for i in range(5):
        log.submit_order(principal="a", idempotency_key=f"k{i}", symbol="ACME", side=Side.BUY, quantity=1, price=1.0)
    other = CommandLog(log.path)
    assert [c.offset for c in other.indexed_after(-1)] == [0, 1, 2, 3, 4]
    assert [c.offset for c in other.indexed_after(2)] == [3, 4]
    assert [c.offset for c in other.indexed_after(-1, limit=2)] == [0, 1]
    log.submit_order(principal="a", idempotency_key="k5", symbol="ACME", side=Side.BUY, quantity=1, price=1.0)
    assert [c.offset for c in other.indexed_after(3)] == [4, 5]  # another process's append is picked up
