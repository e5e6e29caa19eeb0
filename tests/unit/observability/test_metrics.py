"""Hot-path metrics, their snapshot files and their Prometheus exposition."""

from __future__ import annotations

import json
import math
import multiprocessing
import os

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shriven.observability.metrics import (
    DEFAULT_BOUNDS_NS,
    ORDER_REJECTS,
    RISK_CHECK_LATENCY,
    TICK_TO_ORDER_LATENCY,
    LabelledCounter,
    LatencyHistogram,
    MetricsRegistry,
    MetricsSnapshot,
    SnapshotCollector,
    read_flow_outcomes,
    read_snapshots,
    record_flow_outcome,
    write_snapshot,
)


def reference_counts(bounds: tuple[int, ...], values: np.ndarray) -> np.ndarray:
    """Counts per `le` bucket the slow way: v goes to the first bound >= v, else +Inf."""
    counts = np.zeros(len(bounds) + 1, dtype=np.int64)
    for v in values.tolist():
        index = next((i for i, b in enumerate(bounds) if v <= b), len(bounds))
        counts[index] += 1
    return counts


@pytest.fixture
def latencies() -> np.ndarray:
    rng = np.random.default_rng(7)
    values = np.exp(rng.uniform(np.log(10), np.log(5e10), 5_000)).astype(np.int64)
    # values exactly on bounds belong to that bound's bucket (le semantics)
    return np.concatenate([values, np.asarray(DEFAULT_BOUNDS_NS, dtype=np.int64), [0]])


def test_default_bounds_span_50ns_to_10s_log_spaced():
    assert DEFAULT_BOUNDS_NS[0] == 50
    assert DEFAULT_BOUNDS_NS[-1] == 10_000_000_000
    ratios = np.diff(np.log10(DEFAULT_BOUNDS_NS))
    assert np.all(ratios > 0.2)
    assert np.all(ratios < 0.5)


def test_observe_and_observe_many_agree_with_a_reference(latencies):
    one = LatencyHistogram("a", "help")
    many = LatencyHistogram("b", "help")
    for v in latencies.tolist():
        one.observe_ns(v)
    many.observe_many_ns(latencies[:1000])
    many.observe_many_ns(latencies[1000:])
    expected = reference_counts(DEFAULT_BOUNDS_NS, latencies)
    np.testing.assert_array_equal(one.counts, expected)
    np.testing.assert_array_equal(many.counts, expected)
    assert one.counts.dtype == np.int64
    assert one.count == many.count == latencies.size
    assert one.sum_ns == many.sum_ns == int(latencies.sum())


def test_custom_bounds_and_invalid_bounds():
    h = LatencyHistogram("h", "help", bounds_ns=[10, 20])
    h.observe_many_ns(np.array([10, 11, 20, 21, 5]))
    np.testing.assert_array_equal(h.counts, [2, 2, 1])
    h.observe_many_ns(np.array([], dtype=np.int64))
    assert h.count == 5
    with pytest.raises(ValueError, match="strictly increasing"):
        LatencyHistogram("h", "help", bounds_ns=[20, 10])
    with pytest.raises(ValueError, match="metric name"):
        LatencyHistogram("bad-name", "help")


def test_quantile_is_the_upper_bound_of_the_bucket():
    h = LatencyHistogram("h", "help", bounds_ns=[100, 200, 400])
    assert math.isnan(h.quantile_ns(0.5))
    h.observe_many_ns(np.array([50] * 50 + [150] * 49 + [300]))
    assert h.quantile_ns(0.0) == 100.0
    assert h.quantile_ns(0.5) == 100.0
    assert h.quantile_ns(0.51) == 200.0
    assert h.quantile_ns(0.99) == 200.0
    assert h.quantile_ns(1.0) == 400.0
    h.observe_ns(10_000)
    assert h.quantile_ns(1.0) == math.inf
    with pytest.raises(ValueError, match="quantile"):
        h.quantile_ns(1.5)


def test_quantile_close_to_numpy_on_random_data(latencies):
    h = LatencyHistogram("h", "help")
    inside = latencies[(latencies > 50) & (latencies <= 10**10)]
    h.observe_many_ns(inside)
    for q in (0.5, 0.9, 0.99):
        exact = np.quantile(inside, q)
        assert exact <= h.quantile_ns(q) <= exact * 2.5  # one 1-2-5 bucket at most


def test_labelled_counter():
    c = LabelledCounter(ORDER_REJECTS, "help", "reason")
    c.inc("max_notional")
    c.inc("max_notional", 2)
    c.inc("kill_switch")
    assert c.values() == {"max_notional": 3.0, "kill_switch": 1.0}
    with pytest.raises(ValueError, match="cannot decrease"):
        c.inc("x", -1)


def test_registry_reuses_metrics_and_rejects_conflicts():
    r = MetricsRegistry()
    h = r.histogram(RISK_CHECK_LATENCY, "help")
    assert r.histogram(RISK_CHECK_LATENCY, "help") is h
    with pytest.raises(ValueError, match="other bounds"):
        r.histogram(RISK_CHECK_LATENCY, "help", bounds_ns=[1, 2])
    c = r.counter(ORDER_REJECTS, "help", "reason")
    assert r.counter(ORDER_REJECTS, "help", "reason") is c
    with pytest.raises(ValueError, match="label"):
        r.counter(ORDER_REJECTS, "help", "venue")


def make_snapshot(component: str = "execution", now: float = 1_000.0) -> MetricsSnapshot:
    r = MetricsRegistry()
    r.histogram(RISK_CHECK_LATENCY, "Risk check latency.").observe_many_ns(
        np.array([40, 150, 150, 3_000, 20_000_000_000])
    )
    r.histogram(TICK_TO_ORDER_LATENCY, "Tick to order.", bounds_ns=[1_000, 1_000_000]).observe_ns(
        500
    )
    rejects = r.counter(ORDER_REJECTS, "Rejected orders.", "reason")
    rejects.inc("max_notional", 3)
    rejects.inc("kill_switch")
    r.set_gauge("open_orders", 7)
    return r.snapshot(component, now)


def test_snapshot_json_round_trip():
    snapshot = make_snapshot()
    text = snapshot.to_json()
    assert json.loads(text)["component"] == "execution"
    back = MetricsSnapshot.from_json(text)
    assert back == snapshot
    assert back.histograms[RISK_CHECK_LATENCY].counts[-1] == 1
    assert back.histograms[RISK_CHECK_LATENCY].quantile_ns(0.5) == 200.0
    assert back.counters[ORDER_REJECTS].values == {"max_notional": 3.0, "kill_switch": 1.0}
    assert back.gauges == {"open_orders": 7.0}


def test_snapshot_is_a_copy():
    r = MetricsRegistry()
    h = r.histogram("h", "help")
    snapshot = r.snapshot("c", 1.0)
    h.observe_ns(100)
    assert snapshot.histograms["h"].count == 0


def test_write_is_atomic_and_read_skips_corrupt_files(tmp_path):
    path = write_snapshot(tmp_path / "metrics", make_snapshot("execution"))
    write_snapshot(tmp_path / "metrics", make_snapshot("execution", now=2_000.0))
    write_snapshot(tmp_path / "metrics", make_snapshot("gateway"))
    assert path == tmp_path / "metrics" / "execution.json"
    (tmp_path / "metrics" / "broken.json").write_text('{"component": "broken", "writ')
    (tmp_path / "metrics" / "wrong.json").write_text('{"component": 3}')
    (tmp_path / "metrics" / "notes.txt").write_text("ignored")
    assert sorted(os.listdir(tmp_path / "metrics")) == [
        "broken.json",
        "execution.json",
        "gateway.json",
        "notes.txt",
        "wrong.json",
    ]  # no temp files left behind
    snapshots = read_snapshots(tmp_path / "metrics")
    assert [(s.component, s.written_at) for s in snapshots] == [
        ("execution", 2_000.0),
        ("gateway", 1_000.0),
    ]
    assert read_snapshots(tmp_path / "missing") == []


@pytest.mark.parametrize("component", ["flows", "../evil", "", "a/b"])
def test_unsafe_component_names_are_refused(tmp_path, component):
    with pytest.raises(ValueError, match="safe"):
        write_snapshot(tmp_path, make_snapshot(component))


def _record_many(directory: str, flow: str, n: int) -> None:
    for i in range(n):
        record_flow_outcome(directory, flow, "completed" if i % 2 else "Failed", 0.5)


def test_record_flow_outcome_from_two_processes_loses_no_count(tmp_path):
    context = multiprocessing.get_context("spawn")
    n = 60
    workers = [
        context.Process(target=_record_many, args=(str(tmp_path), flow, n))
        for flow in ("ingest", "ingest")
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    outcomes = read_flow_outcomes(tmp_path)
    assert outcomes is not None
    assert outcomes.runs == {"ingest": {"completed": n, "failed": n}}
    assert outcomes.duration_count == {"ingest": 2 * n}
    assert outcomes.duration_sum_s["ingest"] == pytest.approx(n * 1.0)
    assert [p for p in os.listdir(tmp_path) if "tmp" in p] == []


def test_record_flow_outcome_keeps_the_latest_state(tmp_path):
    record_flow_outcome(tmp_path, "aggregate", "Completed", 2.0, clock=lambda: 10.0)
    record_flow_outcome(tmp_path, "aggregate", "Crashed", 1.0, clock=lambda: 20.0)
    record_flow_outcome(tmp_path, "reporting", "Completed", 4.0, clock=lambda: 30.0)
    outcomes = read_flow_outcomes(tmp_path)
    assert outcomes.latest_state == {"aggregate": "crashed", "reporting": "completed"}
    assert outcomes.latest_at == {"aggregate": 20.0, "reporting": 30.0}
    assert read_snapshots(tmp_path) == []  # flows.json is not a component snapshot


def scrape(collector: SnapshotCollector) -> dict:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(family, **labels) -> dict:
    return {
        (s.name, s.labels.get("le")): s.value
        for s in family.samples
        if all(s.labels.get(k) == v for k, v in labels.items())
    }


def test_collector_exposes_histograms_in_seconds(tmp_path):
    write_snapshot(tmp_path, make_snapshot("execution", now=1_000.0))
    families = scrape(SnapshotCollector(tmp_path, clock=lambda: 1_030.0))
    risk = families["shriven_risk_check_latency_seconds"]
    assert risk.type == "histogram"
    got = samples(risk, component="execution")
    bucket = "shriven_risk_check_latency_seconds_bucket"
    # values 40, 150, 150, 3000 ns and 20 s: cumulative counts at le (seconds)
    assert got[(bucket, "5e-08")] == 1
    assert got[(bucket, "1e-07")] == 1
    assert got[(bucket, "2e-07")] == 3
    assert got[(bucket, "5e-06")] == 4
    assert got[(bucket, "10.0")] == 4
    assert got[(bucket, "+Inf")] == 5
    assert got[("shriven_risk_check_latency_seconds_count", None)] == 5
    assert got[("shriven_risk_check_latency_seconds_sum", None)] == pytest.approx(
        (40 + 150 + 150 + 3_000 + 20_000_000_000) / 1e9
    )
    les = [float(le) for (_, le) in got if le is not None]
    assert les == sorted(les)
    tick = samples(families["shriven_tick_to_order_latency_seconds"])
    assert tick[("shriven_tick_to_order_latency_seconds_bucket", "1e-06")] == 1
    assert tick[("shriven_tick_to_order_latency_seconds_bucket", "0.001")] == 1


def test_collector_exposes_counters_gauges_ages_and_flows(tmp_path):
    write_snapshot(tmp_path, make_snapshot("execution", now=1_000.0))
    write_snapshot(tmp_path, make_snapshot("backtest", now=900.0))
    (tmp_path / "corrupt.json").write_text("{")
    record_flow_outcome(tmp_path, "ingest", "completed", 3.0)
    record_flow_outcome(tmp_path, "ingest", "failed", 1.0)
    families = scrape(SnapshotCollector(tmp_path, clock=lambda: 1_030.0))
    rejects = families["shriven_order_rejects"]
    assert rejects.type == "counter"
    values = {
        (s.labels["component"], s.labels["reason"]): s.value
        for s in rejects.samples
        if s.name.endswith("_total")
    }
    assert values[("execution", "max_notional")] == 3
    assert values[("backtest", "kill_switch")] == 1
    gauges = {s.labels["component"]: s.value for s in families["shriven_open_orders"].samples}
    assert gauges == {"execution": 7.0, "backtest": 7.0}
    ages = {
        s.labels["component"]: s.value for s in families["shriven_snapshot_age_seconds"].samples
    }
    assert ages == {"execution": 30.0, "backtest": 130.0}
    runs = {
        (s.labels["flow"], s.labels["state"]): s.value
        for s in families["shriven_flow_runs"].samples
        if s.name == "shriven_flow_runs_total"
    }
    assert runs == {("ingest", "completed"): 1.0, ("ingest", "failed"): 1.0}
    duration = {s.name: s.value for s in families["shriven_flow_duration_seconds"].samples}
    assert duration == {
        "shriven_flow_duration_seconds_count": 2.0,
        "shriven_flow_duration_seconds_sum": 4.0,
    }


def test_collector_over_an_empty_or_missing_directory(tmp_path):
    families = scrape(SnapshotCollector(tmp_path / "missing"))
    assert list(families) == ["shriven_snapshot_age_seconds"]
    assert families["shriven_snapshot_age_seconds"].samples == []


def test_collector_registers_beside_other_metrics_without_name_checks(tmp_path):
    from prometheus_client import Counter

    registry = CollectorRegistry(auto_describe=True)
    Counter("gateway_requests", "Requests.", registry=registry).inc()
    registry.register(SnapshotCollector(tmp_path))
    write_snapshot(tmp_path, make_snapshot())
    text = generate_latest(registry).decode()
    assert "gateway_requests_total 1.0" in text
    assert 'shriven_order_rejects_total{component="execution",reason="max_notional"} 3.0' in text
