"""A local S3-compatible server (moto's) on 127.0.0.1, for the object-storage tests and bench.

The server is a real HTTP process; the lake reaches it the way it reaches AWS or MinIO: s3fs
(fsspec) with the endpoint and credentials from the standard AWS environment variables.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from shriven.testing.processes import stop_process

#: The environment every S3 client here reads (botocore honours AWS_ENDPOINT_URL).
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "shriven-test",
    "AWS_SECRET_ACCESS_KEY": "shriven-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class S3Server:
    """A running server: its endpoint and the environment that points clients at it."""

    endpoint: str

    @property
    def environment(self) -> dict[str, str]:
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def s3_server(timeout_s: float = 60.0) -> Iterator[S3Server]:
    """Start ``moto.server`` on a free loopback port; stop it on exit."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **CREDENTIALS},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the S3 server on {endpoint} did not start") from None
                time.sleep(0.1)
        yield S3Server(endpoint)
    finally:
        stop_process(proc)


def make_bucket(name: str) -> None:
    """Create a bucket through s3fs (the environment must already point at the server)."""
    import fsspec

    fsspec.filesystem("s3", use_listings_cache=False).mkdir(name)
