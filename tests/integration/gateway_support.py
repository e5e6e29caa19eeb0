"""A real gateway for tests: uvicorn on an ephemeral 127.0.0.1 port in a thread, over a temp data dir."""

from __future__ import annotations

import socket
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import msgspec
import uvicorn

from gateway.app import create_app
from gateway.services import GatewayServices
from shriven.config import Settings
from shriven.security.roles import Role
from shriven.testing.small_config import SMALL_CONFIG


def gateway_settings(root, **gateway) -> Settings:
    """The small three-symbol platform under ``root`` with ``[gateway]`` overrides."""
    raw = tomllib.loads(SMALL_CONFIG)
    raw["trading"] = {"journal_fsync": False}
    raw["gateway"] = gateway
    return msgspec.convert({**raw, "data_dir": str(root)}, Settings)


@dataclass
class RunningGateway:
    url: str
    services: GatewayServices
    keys: dict[Role, str]

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)

    def token(self, role: Role) -> str:
        with self.client() as c:
            r = c.post("/v1/auth/token", headers={"X-API-Key": self.keys[role]})
            r.raise_for_status()
            return r.json()["access_token"]

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}


@contextmanager
def serve_gateway(settings: Settings, *, environ: dict[str, str] | None = None) -> Iterator[RunningGateway]:
    """Serve the gateway for ``settings`` until the block ends; API keys for each role are made first."""
    services = GatewayServices.from_settings(settings, environ=environ or {})
    keys = {role: services.keys.create(f"test-{role.value}", role) for role in Role}
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(services), log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the gateway did not start")
        time.sleep(0.02)
    try:
        yield RunningGateway(f"http://127.0.0.1:{port}", services, keys)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
