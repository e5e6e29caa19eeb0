"""`shriven apikey create|list|revoke`: manage the gateway's API keys in the state directory."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from shriven.security.api_keys import ApiKeyStore
from shriven.security.paths import api_keys_path
from shriven.security.roles import Role

if TYPE_CHECKING:
    from shriven.config import Settings

__all__ = ["add_parser", "run", "store_path"]


def store_path(settings: Settings) -> Path:
    """Where the API key store lives: ``<state_dir>/security/api_keys.json``."""
    return api_keys_path(settings.state_dir)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``apikey`` command and its subcommands to the main parser's subparsers."""
    parser = sub.add_parser("apikey", help="create, list or revoke gateway API keys")
    commands = parser.add_subparsers(dest="apikey_command", required=True)
    create = commands.add_parser("create", help="create a key (printed once, never stored in clear)")
    create.add_argument("--subject", required=True, help="who the key belongs to (user or service)")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    commands.add_parser("list", help="list keys (ids, owners, roles; no secrets)")
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", help="the 12-hex-digit id shown by `shriven apikey list`")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one ``apikey`` subcommand; 0 on success, 1 if a revoke found nothing, 2 on bad input."""
    store = ApiKeyStore(store_path(settings))
    if args.apikey_command == "create":
        try:
            key = store.create(args.subject, Role(args.role))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print("WARNING: this key is shown only once; store it now (it cannot be recovered):", file=sys.stderr)
        print(key)
        return 0
    if args.apikey_command == "list":
        _print_table(store)
        return 0
    if args.apikey_command == "revoke":
        if store.revoke(args.key_id):
            print(f"revoked {args.key_id}")
            return 0
        print(f"no active key with id {args.key_id!r}", file=sys.stderr)
        return 1
    raise ValueError(f"unknown apikey command {args.apikey_command!r}")


def _print_table(store: ApiKeyStore) -> None:
    keys = store.list()
    if not keys:
        print(f"no API keys in {store.path}")
        return
    rows = [("KEY_ID", "SUBJECT", "ROLE", "CREATED (UTC)", "STATUS")]
    for info in keys:
        status = "active" if info.revoked_at is None else f"revoked {_utc(info.revoked_at)}"
        rows.append((info.key_id, info.subject, info.role.value, _utc(info.created_at), status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
