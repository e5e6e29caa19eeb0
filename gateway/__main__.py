"""`python -m gateway` (and `make gateway`): serve the gateway with uvicorn on the configured address."""

from __future__ import annotations

import logging
import sys

import uvicorn

from gateway.app import create_app
from gateway.services import GatewayServices
from shriven.config import load_settings
from shriven.observability.logs import configure_json_logging


def main() -> int:
    """Load settings, log JSON lines to stderr, and serve until interrupted."""
    configure_json_logging("gateway", stream=sys.stderr, logger_names=("shriven",))
    settings = load_settings()
    services = GatewayServices.from_settings(settings)
    log = logging.getLogger("shriven.gateway")
    if not services.keys.has_keys():
        log.warning("no API keys yet: create one with `shriven apikey create --subject <you> --role admin`")
    g = settings.gateway
    log.info("gateway for account %s on http://%s:%d (OpenAPI: /docs)", services.account, g.host, g.port)
    uvicorn.run(create_app(services), host=g.host, port=g.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
