"""Settings: typed, frozen configs read from a TOML file and the environment at the edge."""

from __future__ import annotations

import os
import tomllib
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from shriven.risk.config import RiskLimits
from shriven.venue.config import QueueModelName

PositiveFloat = Annotated[float, Meta(gt=0)]
NonNegativeFloat = Annotated[float, Meta(ge=0)]
PositiveInt = Annotated[int, Meta(gt=0)]

#: Environment variable naming the data directory (lake, warehouse, models, reports).
DATA_DIR_ENV = "SHRIVEN_DATA_DIR"
#: Local directory for what needs a local disk when the data directory is an object-store URL.
LOCAL_DIR_ENV = "SHRIVEN_LOCAL_DIR"
#: Environment variable naming the TOML settings file.
CONFIG_ENV = "SHRIVEN_CONFIG"

INTERVALS_NS: dict[str, int] = {
    "1s": 1_000_000_000,
    "1m": 60_000_000_000,
    "5m": 300_000_000_000,
    "1h": 3_600_000_000_000,
    "1d": 86_400_000_000_000,
}


def _seconds_of_day(hhmm: str) -> int:
    if hhmm == "24:00":
        return 86_400
    try:
        t = time.fromisoformat(hhmm)
    except ValueError:
        raise ValueError(f"session time {hhmm!r} is not HH:MM") from None
    return t.hour * 3600 + t.minute * 60 + t.second


class _Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class SymbolConfig(_Config):
    """One instrument of the universe: identity, sector (drives correlation) and trading rules."""

    symbol: str
    name: str
    sector: str
    price: PositiveFloat
    volatility: PositiveFloat
    tick_size: PositiveFloat = 0.01
    lot_size: PositiveFloat = 1.0
    daily_trades: PositiveInt = 50_000


class SyntheticConfig(_Config):
    """The synthetic exchange: seed, session hours (UTC) and market-wide dynamics."""

    seed: int = 42
    session_open: str = "13:30"
    session_close: str = "20:00"
    book_levels: PositiveInt = 10
    snapshot_every_s: PositiveInt = 3600
    market_vol: PositiveFloat = 0.16
    jump_rate_per_day: NonNegativeFloat = 0.5
    jump_size: NonNegativeFloat = 0.01

    def __post_init__(self) -> None:
        self.session_bounds_s()

    def session_bounds_s(self) -> tuple[int, int]:
        """Session open and close as seconds after midnight UTC."""
        open_s = _seconds_of_day(self.session_open)
        close_s = _seconds_of_day(self.session_close)
        if close_s <= open_s:
            raise ValueError(
                f"synthetic session_close {self.session_close} must be after session_open {self.session_open}"
            )
        return open_s, close_s


class CcxtConfig(_Config):
    """Polling connector to a ccxt exchange, with retry, backoff and a circuit breaker."""

    exchange: str = "binance"
    timeframe: str = "1m"
    max_retries: Annotated[int, Meta(ge=0)] = 5
    backoff_base_s: NonNegativeFloat = 0.5
    backoff_max_s: NonNegativeFloat = 30.0
    breaker_failures: PositiveInt = 5
    breaker_reset_s: NonNegativeFloat = 60.0
    #: lake symbol -> ccxt market symbol, e.g. {"BTCUSDT" = "BTC/USDT"}; unmapped symbols pass as is
    symbol_map: dict[str, str] = {}


class OptionsConfig(_Config):
    """The synthetic option chain and the curve options are priced with."""

    rate: float = 0.04
    dividend_yield: float = 0.0
    expiries_days: tuple[PositiveInt, ...] = (7, 14, 30, 61, 91, 182, 365)
    moneyness_low: PositiveFloat = 0.7
    moneyness_high: PositiveFloat = 1.3
    strikes_per_expiry: Annotated[int, Meta(ge=5)] = 25
    skew: Annotated[float, Meta(gt=-1, lt=1)] = -0.45

    def __post_init__(self) -> None:
        if self.moneyness_high <= self.moneyness_low:
            raise ValueError("options moneyness_high must be above moneyness_low")


class AggregationConfig(_Config):
    """Which bar intervals the aggregation builds."""

    intervals: tuple[str, ...] = ("1s", "1m", "5m", "1h", "1d")

    def __post_init__(self) -> None:
        unknown = [i for i in self.intervals if i not in INTERVALS_NS]
        if unknown:
            raise ValueError(f"unknown bar intervals {unknown}; known: {list(INTERVALS_NS)}")


class VenueSettings(_Config):
    """One simulated venue of paper trading and backtests (fees are fractions of notional)."""

    name: str = "sim"
    maker_fee: Annotated[float, Meta(ge=-0.01, le=0.01)] = -0.0001
    taker_fee: Annotated[float, Meta(ge=-0.01, le=0.01)] = 0.0005
    feed_latency_us: Annotated[int, Meta(ge=0)] = 100
    order_latency_us: Annotated[int, Meta(ge=0)] = 250
    queue_model: QueueModelName = "proportional"


class TradingConfig(_Config):
    """The trading path: account, cash, cadence, venues, strategies file and risk limits.

    ``max_order_notional`` and ``max_position_notional`` become each instrument's limits in
    base units at the session's first price; ``risk`` holds the account-wide limits.
    """

    account: str = "paper"
    starting_cash: PositiveFloat = 1_000_000.0
    bar_interval: str = "1m"
    quote_interval_ms: Annotated[int, Meta(ge=0)] = 0
    strategies: str = ""
    venues: tuple[VenueSettings, ...] = (VenueSettings(),)
    max_order_notional: PositiveFloat = 250_000.0
    max_position_notional: PositiveFloat = 500_000.0
    risk: RiskLimits = RiskLimits()
    journal_fsync: bool = True
    checkpoint_every_s: PositiveFloat = 60.0
    live_account: str = "live"
    live_sandbox: bool = True

    def __post_init__(self) -> None:
        if self.bar_interval not in INTERVALS_NS:
            raise ValueError(f"trading bar_interval {self.bar_interval!r} unknown; known: {list(INTERVALS_NS)}")
        if not self.venues:
            raise ValueError("trading needs at least one venue")
        names = [v.name for v in self.venues]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate venue names: {names}")
        for account in (self.account, self.live_account):
            if not account or "/" in account or "=" in account:
                raise ValueError(f"account {account!r} must be a non-empty name without '/' or '='")
        if self.account == self.live_account:
            raise ValueError(f"paper and live accounts must differ (both {self.account!r})")


class DaskConfig(_Config):
    """Where fan-out work (sweeps, backfills, model fits) runs when a flow asks for Dask.

    ``address``: a running scheduler (``tcp://host:8786``); empty: a local cluster of the flow's
    ``dask_workers`` processes. ``SHRIVEN_DASK_ADDRESS`` overrides it.
    """

    address: str = ""


class GatewayConfig(_Config):
    """The REST gateway: where it listens, how long tokens live, how fast a principal may go.

    ``rate_per_s``/``burst``: each principal's token bucket (429 beyond it); ``token_rate_per_s``
    the bucket of each client address on the token endpoint (slows key guessing).
    ``account``: whose engine its orders go to (empty: ``[trading] account``).
    """

    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535)] = 8080
    token_ttl_s: PositiveInt = 900
    issuer: str = "shrivenquant"
    audience: str = "shriven-gateway"
    rate_per_s: PositiveFloat = 50.0
    burst: PositiveInt = 100
    token_rate_per_s: PositiveFloat = 2.0
    token_burst: PositiveInt = 10
    account: str = ""


class ScheduleConfig(_Config):
    """Cron schedules (UTC) of the deployments; prefect.yaml carries the same."""

    ingest_live: str = "* * * * *"
    aggregate_bars: str = "*/5 * * * *"
    daily_pipeline: str = "30 0 * * *"
    options_analytics: str = "0 1 * * *"
    execution_paper: str = "25 13 * * *"
    sentiment: str = "*/15 * * * *"
    ml_inference: str = "*/5 * * * *"
    train_model: str = "0 2 * * 6"
    rebalance: str = "15 13 * * 1-5"
    reporting: str = "45 0 * * *"


class Settings(_Config):
    """Everything the platform is configured with; built once at the edge and passed in."""

    data_dir: str = "data"
    #: Local disk for what needs one (journals, signal log, keys, logs, the warehouse file);
    #: empty: the data directory itself, which must then be local.
    local_dir: str = ""
    symbols: tuple[SymbolConfig, ...] = ()
    synthetic: SyntheticConfig = SyntheticConfig()
    ccxt: CcxtConfig = CcxtConfig()
    aggregation: AggregationConfig = AggregationConfig()
    options: OptionsConfig = OptionsConfig()
    schedules: ScheduleConfig = ScheduleConfig()
    trading: TradingConfig = TradingConfig()
    gateway: GatewayConfig = GatewayConfig()
    dask: DaskConfig = DaskConfig()

    def __post_init__(self) -> None:
        if self.lake_is_remote and not self.local_dir:
            raise ValueError(
                f"data_dir {self.data_dir!r} is remote: set local_dir ({LOCAL_DIR_ENV}) to a local directory"
            )
        names = [s.symbol for s in self.symbols]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate symbols in the universe: {sorted(names)}")

    @property
    def universe(self) -> tuple[str, ...]:
        """Symbols of the universe, in configuration order."""
        return tuple(s.symbol for s in self.symbols)

    def symbol(self, symbol: str) -> SymbolConfig:
        """The configuration of one symbol; KeyError names the unknown symbol."""
        for s in self.symbols:
            if s.symbol == symbol:
                return s
        raise KeyError(f"unknown symbol {symbol!r}; the universe is {list(self.universe)}")

    @property
    def lake_root(self) -> str:
        """Root of the Parquet lake: a local path or an fsspec URL (``s3://bucket/prefix/lake``)."""
        return _join(self.data_dir, "lake")

    @property
    def lake_is_remote(self) -> bool:
        """True when the lake lives on object storage rather than a local disk."""
        return "://" in self.data_dir and not self.data_dir.startswith("file://")

    @property
    def signal_log_root(self) -> str:
        """Lake root holding the signal log: fsync'd and flock'ed, so always on a local disk
        (the lake's own root when that is local, ``<local_dir>/lake`` otherwise)."""
        return _join(self.local_root, "lake") if self.lake_is_remote else self.lake_root

    @property
    def local_root(self) -> str:
        """The local directory: ``local_dir``, or the data directory when that is local."""
        return self.local_dir or self.data_dir

    @property
    def warehouse_path(self) -> str:
        """DuckDB file holding the warehouse views for ad-hoc SQL."""
        return _join(self.local_root, "warehouse.duckdb")

    @property
    def trading_dir(self) -> str:
        """OMS journals and per-account trading state (fsync'd: local disk)."""
        return _join(self.local_root, "trading")

    @property
    def state_dir(self) -> str:
        """Bookkeeping of incremental jobs, keys, metrics snapshots (local disk)."""
        return _join(self.local_root, "state")


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def default_config_text() -> str:
    """The packaged default settings file."""
    return resources.files("shriven").joinpath("default_config.toml").read_text()


def load_settings(
    config_path: str | os.PathLike[str] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Read settings from the TOML file (SHRIVEN_CONFIG, ./shriven.toml or the packaged default) and env."""
    env = os.environ if environ is None else environ
    path = config_path or env.get(CONFIG_ENV)
    if path is None and Path("shriven.toml").is_file():
        path = "shriven.toml"
    if path is None:
        raw = tomllib.loads(default_config_text())
        origin = "packaged default_config.toml"
    else:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"settings file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"settings file {path} is not valid TOML: {exc}") from None
        origin = str(path)
    data_dir = env.get(DATA_DIR_ENV) or raw.pop("data_dir", None) or "data"
    raw.pop("data_dir", None)
    if "://" not in data_dir:
        data_dir = str(Path(data_dir).resolve())
    # journals, logs, keys and the warehouse file need a local disk: beside a local lake, or
    # ./data when the lake is on object storage
    remote = "://" in data_dir and not data_dir.startswith("file://")
    local_dir = env.get(LOCAL_DIR_ENV) or raw.pop("local_dir", None) or ("data" if remote else data_dir)
    raw.pop("local_dir", None)
    if "://" in local_dir and not local_dir.startswith("file://"):
        raise ValueError(f"local_dir must be a local path, got {local_dir!r}")
    local_dir = str(Path(local_dir.removeprefix("file://")).resolve())
    try:
        return msgspec.convert({**raw, "data_dir": data_dir, "local_dir": local_dir}, Settings)
    except (msgspec.ValidationError, ValueError) as exc:
        raise ValueError(f"invalid settings in {origin}: {exc}") from None
