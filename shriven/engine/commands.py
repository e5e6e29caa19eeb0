"""The durable command log: how orders from outside (the gateway, a person) reach a running engine.

The gateway and the execution engine are different processes, and the engine must act on every
accepted command exactly once, across crashes of either. So a command is appended to a JSON-lines
file and fsync'd *before* the gateway answers 202; the engine reads the log after the offset its
OMS journal last recorded (:class:`shriven.oms.records.CommandConsumed`) and acts on each command
once. A command re-delivered after a crash carries the same client order id, which the OMS
answers idempotently, so acting twice is harmless too.

Idempotency keys are per principal: a retry of a request with the same key returns the command
already logged; the same key with different parameters is refused (:class:`IdempotencyConflict`),
as payment APIs do.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

import msgspec

from shriven.durable import exclusive_lock, fsync_dir
from shriven.model.enums import OrderType, Side

__all__ = [
    "COMMANDS_FILE",
    "Command",
    "CommandKind",
    "CommandLog",
    "IdempotencyConflict",
    "InvalidCommand",
    "commands_path",
    "gateway_order_id",
]

COMMANDS_FILE = "commands.jsonl"
_LOCK_SUFFIX = ".lock"
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces
GATEWAY_STRATEGY = "gateway"


class CommandKind(StrEnum):
    """What a command asks the engine to do."""

    SUBMIT_ORDER = "submit_order"
    CANCEL_ORDER = "cancel_order"


class Command(msgspec.Struct, frozen=True, kw_only=True):
    """One accepted command; ``offset`` is its position in the log (0, 1, 2, ...)."""

    offset: int
    ts: int
    kind: CommandKind
    principal: str
    idempotency_key: str
    client_order_id: str
    correlation_id: str = ""
    symbol: str = ""
    side: Side | None = None
    quantity: float = 0.0
    order_type: OrderType = OrderType.LIMIT
    price: float | None = None

    def same_request(self, other: Command) -> bool:
        """True when ``other`` asks for the same thing (a retry), whatever its offset and time."""
        return (
            self.kind == other.kind and self.client_order_id == other.client_order_id
            and self.symbol == other.symbol and self.side == other.side
            and self.quantity == other.quantity and self.order_type == other.order_type
            and self.price == other.price
        )  # fmt: skip


class InvalidCommand(ValueError):
    """A command that can never be acted on (bad quantity, missing price, ...); nothing is logged."""


class IdempotencyConflict(ValueError):
    """The idempotency key was already used by this principal for a different request."""

    def __init__(self, existing: Command) -> None:
        super().__init__(
            f"idempotency key {existing.idempotency_key!r} was already used for a different "
            f"request (command {existing.offset}, order {existing.client_order_id})"
        )
        self.existing = existing


def gateway_order_id(principal: str, idempotency_key: str) -> str:
    """The client order id of a submitted order: a pure function of who asked and their key."""
    digest = hashlib.sha256(f"{principal}\0{idempotency_key}".encode()).hexdigest()
    return f"gw-{digest[:20]}"


def commands_path(trading_dir: str | os.PathLike[str], account: str) -> Path:
    """Where an account's command log lives, beside its OMS journal."""
    return Path(trading_dir) / account / COMMANDS_FILE


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Command)


class CommandLog:
    """Append-only, fsync'd JSON-lines log of commands with per-principal idempotency keys.

    Writers in several processes are serialised by an ``flock`` on a file beside the log; a
    line torn by a writer that crashed is cut off by the next writer (it was never acknowledged).
    One object may be shared by threads (the gateway's request threads): a mutex guards its index.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, clock_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self.path = Path(path)
        self._clock_ns = clock_ns
        self._mutex = threading.RLock()
        self._lock_path = self.path.with_name(self.path.name + _LOCK_SUFFIX)
        self._by_key: dict[tuple[str, str], Command] = {}
        self._by_order: dict[str, list[Command]] = {}
        self._commands: list[Command] = []
        self._indexed_bytes = 0
        self._count = 0
        # the reader's cursor: the byte just after the line of offset _read_next - 1
        self._read_pos = 0
        self._read_next = 0

    # -- writing --------------------------------------------------------------------------

    def submit_order(
        self,
        *,
        principal: str,
        idempotency_key: str,
        symbol: str,
        side: Side,
        quantity: float,
        order_type: OrderType = OrderType.LIMIT,
        price: float | None = None,
        correlation_id: str = "",
    ) -> tuple[Command, bool]:
        """Log an order for the engine; returns the command and whether it is new (not a retry)."""
        _check_key(principal, idempotency_key)
        if not symbol or not symbol.strip():
            raise InvalidCommand("symbol is required")
        if not (isinstance(quantity, int | float) and math.isfinite(quantity) and quantity > 0):
            raise InvalidCommand(f"quantity must be a positive finite number, not {quantity!r}")
        order_type = OrderType(order_type)
        if order_type == OrderType.MARKET:
            if price is not None:
                raise InvalidCommand("a market order takes no price")
        elif price is None or not math.isfinite(price) or price <= 0:
            raise InvalidCommand(f"a {order_type.name} order needs a positive finite price, not {price!r}")
        draft = Command(
            offset=-1, ts=0, kind=CommandKind.SUBMIT_ORDER, principal=principal,
            idempotency_key=idempotency_key, client_order_id=gateway_order_id(principal, idempotency_key),
            correlation_id=correlation_id, symbol=symbol, side=Side(side), quantity=float(quantity),
            order_type=order_type, price=None if price is None else float(price),
        )  # fmt: skip
        return self._append(draft)

    def cancel_order(
        self, *, principal: str, idempotency_key: str, client_order_id: str, correlation_id: str = ""
    ) -> tuple[Command, bool]:
        """Log a cancel of ``client_order_id``; the engine ignores it if the order is finished."""
        _check_key(principal, idempotency_key)
        if not client_order_id or len(client_order_id) > 128:
            raise InvalidCommand("client_order_id must be 1-128 characters")
        draft = Command(
            offset=-1, ts=0, kind=CommandKind.CANCEL_ORDER, principal=principal,
            idempotency_key=idempotency_key, client_order_id=client_order_id,
            correlation_id=correlation_id,
        )  # fmt: skip
        return self._append(draft)

    def _append(self, draft: Command) -> tuple[Command, bool]:
        with self._mutex, self._exclusive():
            self._catch_up(repair=True)
            existing = self._by_key.get((draft.principal, draft.idempotency_key))
            if existing is not None:
                if not existing.same_request(draft):
                    raise IdempotencyConflict(existing)
                return existing, False
            command = msgspec.structs.replace(draft, offset=self._count, ts=self._clock_ns())
            line = _encoder.encode(command) + b"\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                written = os.write(fd, line)
                if written != len(line):  # pragma: no cover - a full disk; the next writer repairs
                    raise OSError(f"short write to {self.path} ({written} of {len(line)} bytes)")
                os.fsync(fd)
            finally:
                os.close(fd)
            if self._count == 0:
                fsync_dir(self.path.parent)
            self._index(command, len(line))
            return command, True

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self._lock_path):
            yield

    # -- reading --------------------------------------------------------------------------

    def _catch_up(self, *, repair: bool = False) -> None:
        """Index the lines other processes appended since we last looked."""
        for command, size in self._lines_from(self._indexed_bytes, repair=repair):
            self._index(command, size)

    def _index(self, command: Command, size: int) -> None:
        self._by_key[(command.principal, command.idempotency_key)] = command
        self._by_order.setdefault(command.client_order_id, []).append(command)
        self._commands.append(command)
        self._indexed_bytes += size
        self._count = command.offset + 1

    def _lines_from(self, pos: int, *, repair: bool = False) -> Iterator[tuple[Command, int]]:
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return
        if size <= pos:
            return
        with open(self.path, "rb") as f:
            f.seek(pos)
            data = f.read(size - pos)
        end = data.rfind(b"\n") + 1
        if end < len(data) and repair:
            # a torn line: its writer died before fsync returned, so it was never acknowledged
            os.truncate(self.path, pos + end)
        start = 0
        while start < end:
            stop = data.index(b"\n", start) + 1
            try:
                command = _decoder.decode(data[start:stop])
            except msgspec.DecodeError as exc:
                raise ValueError(f"{self.path}: unreadable command at byte {pos + start}: {exc}") from None
            yield command, stop - start
            start = stop

    def read_after(self, offset: int) -> list[Command]:
        """Complete commands with offsets above ``offset``, in order (a cheap stat when none)."""
        with self._mutex:
            if offset + 1 < self._read_next:
                self._read_pos, self._read_next = 0, 0  # asked to go back: rescan from the start
            out: list[Command] = []
            for command, size in self._lines_from(self._read_pos):
                self._read_pos += size
                self._read_next = command.offset + 1
                if command.offset > offset:
                    out.append(command)
            return out

    def indexed_after(self, offset: int, *, limit: int | None = None) -> list[Command]:
        """Commands above ``offset`` from this object's index (for a reader that asks repeatedly
        from varying offsets, like the gateway; the engine's :meth:`read_after` keeps no index)."""
        with self._mutex:
            self._catch_up()
            start = max(offset + 1, 0)
            return self._commands[start : None if limit is None else start + limit]

    def get(self, principal: str, idempotency_key: str) -> Command | None:
        """The command logged under this principal's key, None if none."""
        with self._mutex:
            self._catch_up()
            return self._by_key.get((principal, idempotency_key))

    def for_order(self, client_order_id: str) -> list[Command]:
        """Every command about one order (its submit, then any cancels), in log order."""
        with self._mutex:
            self._catch_up()
            return list(self._by_order.get(client_order_id, ()))

    def __len__(self) -> int:
        with self._mutex:
            self._catch_up()
            return self._count


def _check_key(principal: str, idempotency_key: str) -> None:
    if not principal:
        raise InvalidCommand("a command needs a principal")
    if not isinstance(idempotency_key, str) or not _KEY.match(idempotency_key):
        raise InvalidCommand("idempotency key must be 1-128 printable ASCII characters without spaces")

