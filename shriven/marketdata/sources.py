"""The one wiring place for sources: a source kind plus options becomes a configured source."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from shriven.config import Settings
from shriven.marketdata.source import MarketDataSource


class SourceKind(StrEnum):
    """Market-data sources the platform can ingest from."""

    SYNTHETIC = "synthetic"
    FILE = "file"
    CCXT = "ccxt"


def build_source(
    kind: str,
    settings: Settings,
    paths: Sequence[str] = (),
    layout: str = "shriven",
) -> MarketDataSource:
    """A ready source of the given kind; ValueError for an unknown kind or missing options."""
    try:
        source_kind = SourceKind(kind)
    except ValueError:
        raise ValueError(f"unknown source {kind!r}; choose one of {[k.value for k in SourceKind]}") from None
    if source_kind is SourceKind.SYNTHETIC:
        from shriven.marketdata.synthetic import SyntheticExchange

        return SyntheticExchange(settings)
    if source_kind is SourceKind.FILE:
        if not paths:
            raise ValueError("the file source needs at least one path (--path FILE)")
        from shriven.marketdata.replay import FileReplaySource

        return FileReplaySource(list(paths), layout=layout)
    from shriven.marketdata.ccxt_source import CcxtSource

    return CcxtSource(settings.ccxt)
