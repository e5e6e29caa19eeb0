"""Tasks around the trading engine: a whole backtest, and a paper session's risk alerts as Prefect events."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.events import emit_event

from shriven.config import load_settings
from shriven.engine.wiring import run_backtest, strategies_from_settings
from shriven.risk.events import RiskEvent, RiskEventKind


@task
def backtest_task(dates: list[str], strategies: str | None = None, run_id: str | None = None) -> dict[str, object]:
    """Replay the days through the full trading path and write orders, fills, positions and PnL."""
    settings = load_settings()
    logger = get_run_logger()
    result = run_backtest(
        settings, dates, strategies=strategies_from_settings(settings, strategies), run_id=run_id,
        progress=lambda day, counts: logger.info("backtest %s done: %s", day, counts),
    )  # fmt: skip
    logger.info(
        "%d market events through the full path in %.2fs (%.0f events/s); %d orders, %d fills, return %.4f%%",
        result.market_events, result.elapsed_s, result.events_per_second, result.orders, result.fills,
        100 * result.total_return,
    )  # fmt: skip
    return result.summary()


#: Risk events that page someone: they become Prefect events (automations can notify on them).
ALERT_KINDS = frozenset({RiskEventKind.BREACH, RiskEventKind.KILL_SWITCH, RiskEventKind.STATE_CHANGE})


def emit_risk_event(account: str, event: RiskEvent) -> None:
    """Publish a breach, kill switch or trading-state change as a Prefect event."""
    if event.kind not in ALERT_KINDS:
        return
    emit_event(
        event=f"shriven.risk.{event.kind.name.lower()}",
        resource={"prefect.resource.id": f"shriven.account.{account}", "prefect.resource.name": account},
        payload={
            "reason": str(getattr(event.reason, "name", event.reason)), "symbol": event.symbol,
            "trading_state": event.trading_state.name, "detail": event.detail, "ts": event.ts,
        },
    )  # fmt: skip
