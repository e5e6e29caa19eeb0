"""The sentiment flow under the real Prefect engine, over a small synthetic lake."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from shriven.lake.layout import Window
from shriven.lake.warehouse import memory_connection
from shriven.lake.writer import Lake

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

DAY = date(2026, 1, 5)
HORIZON_MINUTES = 15


@pytest.fixture
def sentiment_platform(small_platform, tmp_path, monkeypatch):
    """The small universe over a three-hour session of trades and 1m bars, and an inbox."""
    from shriven.aggregation.incremental import BarAggregator
    from shriven.config import load_settings
    from shriven.marketdata.ingest import ingest_window
    from shriven.marketdata.synthetic import SyntheticExchange
    from tests.conftest import SMALL_CONFIG

    config = tmp_path / "three_hours.toml"
    config.write_text(SMALL_CONFIG.replace('session_close = "15:30"', 'session_close = "17:30"'))
    monkeypatch.setenv("SHRIVEN_CONFIG", str(config))
    monkeypatch.delenv("SHRIVEN_SENTIMENT_MODEL", raising=False)
    small_platform = load_settings()
    lake = Lake(small_platform.lake_root)
    universe = small_platform.universe
    ingest_window(SyntheticExchange(small_platform), lake, Window.days(DAY), universe, universe)
    BarAggregator(lake, small_platform.state_dir, ("1m",)).run()
    inbox = Path(small_platform.data_dir) / "inbox" / "news"
    inbox.mkdir(parents=True)
    return small_platform, lake, inbox


def test_sentiment_flow_scores_news_into_the_warehouse_views(sentiment_platform):
    from flows.sentiment import sentiment
    from shriven.marketdata.synthetic import session_window

    settings, lake, inbox = sentiment_platform
    open_ns, close_ns = session_window(settings, DAY)
    start = datetime.fromtimestamp(open_ns / 1e9, tz=UTC)
    end = datetime.fromtimestamp(close_ns / 1e9, tz=UTC)
    at = datetime.fromtimestamp(open_ns / 1e9 + 600, tz=UTC).isoformat()
    (inbox / "wire.jsonl").write_text(
        json.dumps({"time": at, "source": "wire", "text": "Bolt Motors shares slump 8% after recall"})
        + "\n"
        + json.dumps({"time": at, "source": "wire", "text": "$ZZZZ rallies 30% on takeover talk"})
        + "\n"
    )
    (inbox / "broken.csv").write_text("when,who\nyesterday,nobody\n,\n")

    result = sentiment(start=start, end=end, source="both", half_life="10m")

    assert result["input_texts"] == result["scored_texts"] + result["quarantined"]
    assert 100 < result["scored_texts"] < 400
    assert result["quarantined"] == 3  # $ZZZZ (unknown_entity) and broken.csv's two rows
    assert (inbox / "processed" / "wire.jsonl").is_file()
    assert (inbox / "failed" / "broken.csv").is_file()
    assert not list(inbox.glob("*.csv"))
    assert not list(inbox.glob("*.jsonl"))
    metrics = result["model_metrics"]
    assert metrics["macro_f1"] > metrics["vader_macro_f1"]
    head = Path(metrics["path"])
    assert head.is_file()
    assert head.parent.parent == Path(settings.data_dir) / "models" / "sentiment-head"
    assert (head.parent / "metadata.json").is_file()

    from prefect.artifacts import Artifact

    artifact = Artifact.get("sentiment")
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert {row["symbol"] for row in table} == {"ACME", "BOLT", "CRUX", "(market-wide)"}
    assert sum(row["texts"] for row in table) == result["score_rows"]
    assert all(row["held_out_macro_f1"] > row["vader_macro_f1"] for row in table)

    con = memory_connection(settings.lake_root)
    try:
        news = con.sql("SELECT count(*), count(DISTINCT text_id) FROM news").fetchall()[0]
        assert news == (result["news_rows"], result["scored_texts"])
        scores = con.sql("SELECT count(*), min(score), max(score) FROM sentiment_scores").fetchall()[0]
        assert scores[0] == result["score_rows"]
        assert -1.0 <= scores[1] < 0.0 < scores[2] <= 1.0
        bolt = con.sql(
            "SELECT label FROM sentiment_scores JOIN news USING (text_id, symbol) "
            "WHERE news.source = 'wire'"
        ).fetchall()
        assert bolt == [("negative",)]
        assert con.sql("SELECT count(*) FROM sentiment_index").fetchall()[0][0] == result["index_rows"]
        reasons = con.sql(
            "SELECT reason, count(*) FROM quarantine WHERE dataset = 'news' GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert reasons == [("missing_time;missing_text", 2), ("unknown_entity", 1)]
        # the return over the last HORIZON_MINUTES bars, at each bar's close
        index = con.sql(
            "SELECT i.symbol, i.index, r.ret FROM sentiment_index i JOIN ("
            f"  SELECT symbol, ts + INTERVAL 1 MINUTE AS ts, ln(close / lag(close, {HORIZON_MINUTES}) "
            "   OVER (PARTITION BY symbol ORDER BY ts)) AS ret FROM bars_1m"
            ") r USING (symbol, ts) ORDER BY i.symbol, i.ts"
        ).pl().drop_nulls("ret")
    finally:
        con.close()
    # the synthetic news carries the market's moves: each symbol's index follows its recent return
    assert index.height > 3 * 150
    for (symbol,), rows in index.group_by("symbol"):
        corr = np.corrcoef(rows["index"].to_numpy(), rows["ret"].to_numpy())[0, 1]
        assert corr > 0.1, symbol
    assert np.corrcoef(index["index"].to_numpy(), index["ret"].to_numpy())[0, 1] > 0.3

    again = sentiment(start=start, end=end, source="both", half_life="10m")
    assert again["scored_texts"] == 0
    assert again["already_scored"] == result["scored_texts"] - 1  # the inbox text was moved away
    assert lake.read("news").num_rows == result["news_rows"]
    assert lake.read("sentiment_scores").num_rows == result["score_rows"]
    assert lake.read("sentiment_index").num_rows == result["index_rows"]


def test_a_corrupt_head_fails_the_flow_with_the_file_named(sentiment_platform):
    from flows.sentiment import sentiment
    from models.sentiment.encoder import MiniLMEncoder
    from models.sentiment.errors import ModelFileError
    from models.sentiment.model_store import default_head_dir, default_head_version

    settings, _, _ = sentiment_platform
    version = default_head_version(MiniLMEncoder().identifier)
    head = default_head_dir(Path(settings.data_dir) / "models", version) / "head.npz"
    head.parent.mkdir(parents=True)
    head.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelFileError, match="corrupt head file") as caught:
        sentiment(source="synthetic")
    assert caught.value.path == head
