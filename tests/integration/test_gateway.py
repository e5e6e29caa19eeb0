"""The gateway on a real HTTP server on 127.0.0.1: auth on every endpoint, orders into a paper engine,
risk, signals, audit, metrics, rate limits under load, and no secret in any log."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections import Counter
from datetime import date

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.services import GatewayServices
from shriven.engine.status import read_status, status_path
from shriven.engine.wiring import open_paper_session
from shriven.lake.warehouse import memory_connection
from shriven.marketdata.synthetic import session_window
from shriven.observability.logs import configure_json_logging
from shriven.security.audit import audit_directory
from shriven.security.roles import Principal, Role
from shriven.security.tokens import TokenIssuer, TokenSettings
from shriven.security.vault import MasterKey, Vault, default_vault_path
from shriven.testing.processes import stop_process
from tests.integration.gateway_support import gateway_settings, serve_gateway

DAY = date(2026, 1, 5)
PUBLIC = {("GET", "/health"), ("GET", "/ready"), ("POST", "/v1/auth/token")}
#: The role each protected endpoint needs: the spec this test holds the app to.
REQUIRED = {
    ("GET", "/v1/health"): Role.VIEWER,
    ("GET", "/metrics"): Role.VIEWER,
    ("POST", "/v1/orders"): Role.TRADER,
    ("GET", "/v1/orders"): Role.VIEWER,
    ("GET", "/v1/orders/{client_order_id}"): Role.VIEWER,
    ("DELETE", "/v1/orders/{client_order_id}"): Role.TRADER,
    ("GET", "/v1/positions"): Role.VIEWER,
    ("GET", "/v1/pnl"): Role.VIEWER,
    ("GET", "/v1/risk"): Role.VIEWER,
    ("GET", "/v1/kill-switch"): Role.VIEWER,
    ("PUT", "/v1/kill-switch"): Role.ADMIN,
    ("GET", "/v1/signals"): Role.VIEWER,
    ("POST", "/v1/signals"): Role.TRADER,
    ("POST", "/v1/flows/{flow_name}/{deployment_name}/runs"): Role.TRADER,
    ("GET", "/v1/audit"): Role.ADMIN,
}
_BELOW = {Role.TRADER: Role.VIEWER, Role.ADMIN: Role.TRADER}


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    settings = gateway_settings(tmp_path_factory.mktemp("gateway"), rate_per_s=1000.0, burst=1000, token_rate_per_s=1000.0, token_burst=1000)
    with serve_gateway(settings) as running:
        yield running


def _path(template: str) -> str:
    return template.replace("{client_order_id}", "gw-none").replace("{flow_name}", "f").replace("{deployment_name}", "d")


def test_the_spec_covers_every_route_of_the_app(gw) -> None:
    routes = {(m.upper(), p) for p, ops in create_app(gw.services).openapi()["paths"].items() for m in ops}
    assert routes == PUBLIC | set(REQUIRED)


def _forged(gw, **changes) -> str:
    """A token the gateway must refuse: signed with another key, for another audience, or expired."""
    s = gw.services.tokens._settings
    fields = {"secret": s.secret, "issuer": s.issuer, "audience": s.audience, "ttl_s": 60} | {
        k: v for k, v in changes.items() if k != "clock"
    }
    issuer = TokenIssuer(TokenSettings(**fields), clock=changes.get("clock", time.time))
    return issuer.issue(Principal(subject="mallory", role=Role.ADMIN))


@pytest.mark.parametrize(("method", "template"), sorted(REQUIRED))
def test_every_protected_endpoint_refuses_bad_credentials(gw, method, template) -> None:
    bad = {
        "missing": None,
        "garbage": "not-a-jwt",
        "expired": _forged(gw, clock=lambda: time.time() - 3600),
        "bad_signature": _forged(gw, secret=b"k" * 32),
        "wrong_audience": _forged(gw, audience="someone-else"),
        "wrong_issuer": _forged(gw, issuer="someone-else"),
    }
    with gw.client() as c:
        for case, token in bad.items():
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            r = c.request(method, _path(template), headers=headers)
            assert r.status_code == 401, (case, r.text)
            assert token is None or token not in r.text
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        r = c.request(method, _path(template), headers={"Authorization": f"Bearer {_forged(gw, clock=lambda: time.time() - 3600)}"})
        assert r.json()["reason"] == "expired"
        r = c.request(method, _path(template), headers={"Authorization": f"Bearer {_forged(gw, audience='x')}"})
        assert r.json()["reason"] == "wrong_audience"
        role = REQUIRED[(method, template)]
        if role in _BELOW:
            r = c.request(method, _path(template), headers=gw.auth(_BELOW[role]))
            assert r.status_code == 403, r.text
            assert r.json()["reason"] == "forbidden"


def test_token_endpoint_refuses_unknown_and_revoked_keys(gw) -> None:
    with gw.client() as c:
        assert c.post("/v1/auth/token").status_code == 401
        assert c.post("/v1/auth/token", headers={"X-API-Key": "sqk_000000000000_nope"}).status_code == 401
        key = gw.services.keys.create("temp", Role.VIEWER)
        token = c.post("/v1/auth/token", json={"api_key": key}).json()["access_token"]
        assert c.get("/v1/pnl", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        gw.services.keys.revoke(key.split("_")[1])
        # the token it bought stops working at once, not when it expires
        refused = c.get("/v1/pnl", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert refused.json()["reason"] == "revoked"
        r = c.post("/v1/auth/token", json={"api_key": key})
        assert r.status_code == 401
        assert key not in r.text


def test_orders_go_through_the_command_log_into_a_paper_engine(gw) -> None:
    settings = gw.services.settings
    trader = gw.auth(Role.TRADER)
    below = round(settings.symbol("ACME").price * 0.95, 2)
    with gw.client(headers=trader) as c:
        r = c.post("/v1/orders", json={"symbol": "ACME", "side": "buy", "quantity": 2, "order_type": "market"},
                   headers={"Idempotency-Key": "mkt-1", "X-Correlation-ID": "corr-123"})
        assert r.status_code == 202, r.text
        market = r.json()
        assert market["replayed"] is False
        assert r.headers["X-Correlation-ID"] == "corr-123"
        again = c.post("/v1/orders", json={"symbol": "ACME", "side": "buy", "quantity": 2, "order_type": "market"},
                       headers={"Idempotency-Key": "mkt-1"})
        assert again.status_code == 202
        assert again.json() == {**market, "replayed": True}
        conflict = c.post("/v1/orders", json={"symbol": "ACME", "side": "buy", "quantity": 3, "order_type": "market"},
                          headers={"Idempotency-Key": "mkt-1"})
        assert conflict.status_code == 409
        assert conflict.json()["reason"] == "idempotency_conflict"
        for body, reason in [
            ({"symbol": "NOPE", "side": "buy", "quantity": 1, "price": 1.0}, "unknown_symbol"),
            ({"symbol": "ACME", "side": "buy", "quantity": 1}, "invalid_order"),  # a limit without a price
            ({"symbol": "ACME", "side": "buy", "quantity": -1, "price": 1.0}, "invalid_request"),
            ({"symbol": "ACME", "side": "hold", "quantity": 1, "price": 1.0}, "invalid_request"),
            ({"symbol": "ACME", "side": "buy", "quantity": "NaN", "price": 1.0}, "invalid_request"),
        ]:
            bad = c.post("/v1/orders", json=body, headers={"Idempotency-Key": f"bad-{reason}-{len(str(body))}"})
            assert bad.status_code == 422, bad.text
            assert bad.json()["reason"] == reason, bad.text
        missing_key = c.post("/v1/orders", json={"symbol": "ACME", "side": "buy", "quantity": 1, "price": below})
        assert missing_key.status_code == 422
        rest = c.post("/v1/orders", json={"symbol": "ACME", "side": "buy", "quantity": 1, "price": below},
                      headers={"Idempotency-Key": "rest-1"}).json()
        queued = c.get("/v1/orders", params={"state": "queued"}).json()
        assert {o["client_order_id"] for o in queued["orders"]} == {market["client_order_id"], rest["client_order_id"]}
        assert c.delete("/v1/orders/gw-unknown").status_code == 404

    # the execution engine (paper, the day replayed fast) acts on the log
    open_ns, _ = session_window(settings, DAY)
    session = open_paper_session(settings, day=DAY, speed=3600.0, strategies=[])
    session.run(until_ns=open_ns + 5 * 60 * 10**9, poll_s=0.01, compact=False)
    with gw.client(headers=trader) as c:
        filled = c.get(f"/v1/orders/{market['client_order_id']}").json()
        assert filled["state"] == "filled"
        assert filled["filled_quantity"] == 2
        assert filled["avg_fill_price"] > 0
        assert c.get(f"/v1/orders/{rest['client_order_id']}").json()["state"] == "accepted"
        positions = c.get("/v1/positions").json()
        assert positions["source"] == "engine"
        assert {p["symbol"]: p["quantity"] for p in positions["positions"]} == {"ACME": 2.0}
        assert c.get("/v1/pnl").json()["pnl"]["fees"] >= 0
        families = {f.name: f for f in text_string_to_metric_families(c.get("/metrics").text)}
        counts = {s.name: s.value for s in families["shriven_tick_to_order_latency_seconds"].samples}
        assert counts["shriven_tick_to_order_latency_seconds_count"] == 2  # the two orders the engine sent
        assert families["shriven_risk_check_latency_seconds"].samples
        health = {h["name"]: h["status"] for h in c.get("/v1/health").json()["components"]}
        assert health["execution"] == "ok"  # its snapshot was just written
        cancel = c.delete(f"/v1/orders/{rest['client_order_id']}")
        assert cancel.status_code == 202, cancel.text
    session = open_paper_session(settings, day=DAY, speed=3600.0, strategies=[])
    session.run(until_ns=open_ns + 10 * 60 * 10**9, poll_s=0.01, compact=False)
    with gw.client(headers=trader) as c:
        assert c.get(f"/v1/orders/{rest['client_order_id']}").json()["state"] == "canceled"
        assert c.get("/v1/orders", params={"state": "open"}).json()["orders"] == []
    status = read_status(status_path(settings.trading_dir, settings.trading.account))
    assert status.counts["commands"] == 1  # the restart acted only on the cancel

    with gw.client(headers=gw.auth(Role.ADMIN)) as c:
        audit = c.get("/v1/audit").json()
    posts = [a for a in audit if a["action"] == "POST /v1/orders"]
    assert any(a["correlation_id"] == "corr-123" and a["principal"] == "test-trader" and a["status"] == 202 for a in posts)
    assert any(a["status"] == 409 and a["result"] == "refused" for a in posts)
    assert any(a["action"] == "DELETE /v1/orders/{client_order_id}" and a["status"] == 202 for a in audit)
    # the same records through the warehouse's audit_log view (ad-hoc SQL)
    con = memory_connection(settings.lake_root, audit_dir=audit_directory(settings.state_dir))
    rows = con.sql("SELECT principal, status, correlation_id, ts FROM audit_log WHERE action = 'POST /v1/orders' ORDER BY ts").fetchall()
    assert ("test-trader", 202, "corr-123") in [r[:3] for r in rows]
    assert all(r[3] is not None for r in rows)


def test_kill_switch_is_set_by_admins_and_shown_in_risk(gw) -> None:
    with gw.client(headers=gw.auth(Role.ADMIN)) as c:
        r = c.put("/v1/kill-switch", json={"on": True, "reason": "desk halt"})
        assert r.status_code == 200
        assert r.json()["on"] is True
        assert r.json()["by"] == "test-admin"
        risk = c.get("/v1/risk").json()
        assert risk["kill_switch"] is True
        assert risk["kill_switch_reason"] == "desk halt"
        assert gw.services.kill_switch.read().on
        assert c.put("/v1/kill-switch", json={"on": False}).json()["on"] is False
        assert c.put("/v1/kill-switch", json={"on": "maybe"}).status_code == 422


def test_signals_are_appended_quarantined_and_listed(gw) -> None:
    with gw.client(headers=gw.auth(Role.TRADER)) as c:
        r = c.post("/v1/signals", json={"signals": [{"symbol": "ACME", "target": 5}, {"symbol": "BOLT", "target": 0.1, "kind": "weight"}]})
        assert r.status_code == 201, r.text
        assert r.json()["appended"] == 2
        assert r.json()["quarantined"] == 0
        listed = c.get("/v1/signals", params={"after": r.json()["first_offset"] - 1}).json()
        assert [(s["symbol"], s["kind"], s["source"]) for s in listed] == [
            ("ACME", "position", "gateway:test-trader"), ("BOLT", "weight", "gateway:test-trader")]
        assert c.post("/v1/signals", json={"signals": []}).status_code == 422
        assert c.post("/v1/signals", json={"signals": [{"symbol": "ACME", "target": 1e300}]}).status_code == 422


def test_health_ready_and_metrics(gw) -> None:
    with gw.client() as c:
        assert c.get("/health").json() == {"status": "ok"}
        ready = c.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["ready"] is True
        headers = gw.auth(Role.VIEWER)
        summary = c.get("/v1/health", headers=headers).json()
        names = {comp["name"]: comp["status"] for comp in summary["components"]}
        assert names["gateway"] == "ok"
        assert {"lake", "execution", "kill_switch", "prefect", "flows"} <= set(names)
        text = c.get("/metrics", headers=headers).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    latency = families["shriven_gateway_request_seconds"]
    routes = {s.labels.get("route") for s in latency.samples}
    assert "/v1/auth/token" in routes


def test_flow_run_without_a_prefect_server_is_a_clear_503(gw) -> None:
    with gw.client(headers=gw.auth(Role.TRADER)) as c:
        r = c.post("/v1/flows/backtest/backtest/runs", json={"parameters": {"days": 1}})
    assert r.status_code == 503
    assert r.json()["reason"] == "no_prefect"


@pytest.mark.slow
def test_a_bounded_load_completes_without_errors_and_shows_the_rate_limit(tmp_path) -> None:
    rate, burst, seconds, clients = 40.0, 20, 3.0, 8
    settings = gateway_settings(tmp_path, rate_per_s=rate, burst=burst)
    with serve_gateway(settings) as gw:
        headers = gw.auth(Role.VIEWER)
        statuses: Counter[int] = Counter()
        errors: list[str] = []
        lock = threading.Lock()
        stop = time.monotonic() + seconds

        def hammer() -> None:
            with gw.client(headers=headers) as c:
                while time.monotonic() < stop:
                    try:
                        r = c.get("/v1/pnl")
                    except httpx.HTTPError as exc:
                        with lock:
                            errors.append(repr(exc))
                        continue
                    with lock:
                        statuses[r.status_code] += 1
                    if r.status_code == 429:
                        assert int(r.headers["Retry-After"]) >= 1

        start = time.monotonic()
        threads = [threading.Thread(target=hammer) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        elapsed = time.monotonic() - start
    assert not errors
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[429] > 0
    assert statuses[200] > 0
    # the token bucket: never more than the burst plus what refilled while the test ran
    assert statuses[200] <= burst + rate * elapsed + 1


def test_no_secret_reaches_the_logs_or_the_audit(tmp_path) -> None:
    passphrase = "correct horse battery staple 42"
    settings = gateway_settings(tmp_path)
    vault = Vault.create(default_vault_path(settings), MasterKey.from_passphrase(passphrase))
    vault.set("exchange.binance.api_key", "AKIA-EXCHANGE-KEY-0001")
    vault.set("exchange.binance.secret", "s3cr3t-exchange-value-xyz")
    vault.set("gateway.jwt_signing_key", "v" * 64)
    buffer = io.StringIO()
    handler = configure_json_logging("gateway-test", stream=buffer, logger_names=("shriven",), level=logging.DEBUG)
    try:
        with serve_gateway(settings, environ={"SHRIVEN_VAULT_PASSPHRASE": passphrase}) as gw:
            api_key = gw.keys[Role.TRADER]
            token = gw.token(Role.TRADER)
            with gw.client(headers={"Authorization": f"Bearer {token}"}) as c:
                c.post("/v1/orders", json={"symbol": "ACME", "side": "buy", "quantity": 1, "order_type": "market"},
                       headers={"Idempotency-Key": "k-1"})
                c.post("/v1/orders", json={"symbol": api_key, "side": "buy", "quantity": 1}, headers={"Idempotency-Key": "k-2"})
                c.get("/v1/orders")
            with gw.client() as c:
                c.post("/v1/auth/token", json={"api_key": api_key + "x"})
                c.get("/v1/pnl", headers={"Authorization": f"Bearer {token}x"})
            logging.getLogger("shriven.gateway").warning("a careless line with %s and %s", token, "s3cr3t-exchange-value-xyz")
            audit_text = "".join(p.read_text() for p in (tmp_path / "state" / "security" / "audit").rglob("*.jsonl"))
    finally:
        for name in ("shriven",):
            logging.getLogger(name).removeHandler(handler)
    logs = buffer.getvalue()
    assert "POST /v1/orders" in logs  # the access log was captured
    for line in logs.splitlines():
        json.loads(line)
    for secret in (passphrase, "AKIA-EXCHANGE-KEY-0001", "s3cr3t-exchange-value-xyz", "v" * 64, api_key, token,
                   api_key.split("_", 2)[2]):  # fmt: skip  (the secret part may itself hold "_")
        assert secret not in logs, secret[:6]
        assert secret not in audit_text, secret[:6]
    # the vault's signing key signs the gateway's tokens (not the key file)
    assert TokenIssuer(TokenSettings(secret=b"v" * 64)).verify(token).subject == "test-trader"


def test_gateway_services_need_no_network_to_build(tmp_path) -> None:
    services = GatewayServices.from_settings(gateway_settings(tmp_path), environ={})
    assert services.prefect_api_url is None
    assert services.account == "paper"
    assert (tmp_path / "state" / "security" / "jwt_signing.key").stat().st_mode & 0o777 == 0o600


def _prefect_api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_a_flow_run_is_created_through_the_prefect_api(tmp_path) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("gateway-probe")
        client.create_deployment(flow_id=flow_id, name="nightly")
    with serve_gateway(gateway_settings(tmp_path), environ={"PREFECT_API_URL": _prefect_api_url()}) as gw:
        with gw.client(headers=gw.auth(Role.TRADER)) as c:
            r = c.post("/v1/flows/gateway-probe/nightly/runs", json={"parameters": {"days": 3}},
                       headers={"X-Correlation-ID": "flow-req-1"})
            missing = c.post("/v1/flows/gateway-probe/no-such/runs", json={})
    assert r.status_code == 202, r.text
    assert missing.status_code == 404
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(r.json()["flow_run_id"])
    assert run.parameters == {"days": 3}
    assert "by:test-trader" in run.tags
    assert "correlation:flow-req-1" in run.tags  # the gateway request's id follows it into the flow run


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_schemathesis_finds_no_server_error(tmp_path) -> None:
    """Property-based requests from the OpenAPI schema, as an admin (every route reachable): never a 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings

    environ = {"PREFECT_API_URL": _prefect_api_url()}
    with serve_gateway(gateway_settings(tmp_path, rate_per_s=10_000.0, burst=10_000), environ=environ) as gw:
        headers = gw.auth(Role.ADMIN)
        schema = schemathesis.openapi.from_url(f"{gw.url}/openapi.json")
        failures: list[str] = []
        calls = 0
        for result in schema.get_all_operations():
            operation = result.ok()

            @settings(max_examples=25, deadline=None, phases=[Phase.generate], database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            @given(case=operation.as_strategy())
            def probe(case) -> None:
                nonlocal calls
                response = case.call(base_url=gw.url, headers=headers)
                calls += 1
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

            probe()
    assert calls > 100
    assert not failures, failures[:5]


@pytest.mark.slow
def test_the_gateway_command_serves_with_json_logs(tmp_path) -> None:
    """`python -m gateway` (what `make gateway` runs): a key from the CLI, a token, a request, JSON logs."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from shriven.testing.small_config import SMALL_CONFIG

    config = tmp_path / "shriven.toml"
    config.write_text(SMALL_CONFIG + f"\n[gateway]\nport = {port}\n")
    env = {**os.environ, "SHRIVEN_CONFIG": str(config), "SHRIVEN_DATA_DIR": str(tmp_path / "data")}
    env.pop("PREFECT_API_URL", None)
    key = subprocess.run(
        [sys.executable, "-m", "cli.main", "apikey", "create", "--subject", "ops", "--role", "admin"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    log = tmp_path / "gateway.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "gateway"], env=env, stderr=err, stdout=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the gateway did not come up"
            time.sleep(0.2)
        token = httpx.post(f"{url}/v1/auth/token", headers={"X-API-Key": key}).json()["access_token"]
        r = httpx.get(f"{url}/v1/risk", headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": "trace-77"})
        assert r.status_code == 200
    finally:
        stop_process(proc)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [entry for entry in lines if entry.get("correlation_id") == "trace-77"]
    assert access
    assert access[0]["route"] == "/v1/risk"
    assert access[0]["principal"] == "ops"
    assert key not in log.read_text()
    assert token not in log.read_text()
