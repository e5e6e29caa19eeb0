"""`shriven secrets ...`: manage the encrypted vault from a shell without values ever in argv.

Values are read from stdin (piped) or typed twice at a hidden prompt, never taken from the
command line, where ``ps`` and shell history would show them. The master key comes from
SHRIVEN_VAULT_PASSPHRASE or SHRIVEN_VAULT_KEY_FILE, else a hidden prompt when stdin is a terminal.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from shriven.security.vault import (
    KEY_FILE_ENV,
    PASSPHRASE_ENV,
    MasterKey,
    SecretNotFound,
    Vault,
    VaultError,
    default_vault_path,
    generate_key_file,
)

if TYPE_CHECKING:
    from shriven.config import Settings

NEW_PASSPHRASE_ENV = "SHRIVEN_VAULT_NEW_PASSPHRASE"
MIN_NEW_PASSPHRASE = 8


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``secrets`` and its subcommands to the ``shriven`` parser."""
    p = sub.add_parser(
        "secrets",
        help="the encrypted secrets vault (exchange keys, tokens)",
        description=f"Master key: {PASSPHRASE_ENV} or {KEY_FILE_ENV}, else a prompt on a terminal.",
    )
    p.add_argument("--vault", default=None, help="vault file (default: <state_dir>/secrets.vault)")
    cmd = p.add_subparsers(dest="secrets_command", required=True)
    cmd.add_parser("init", help="create an empty vault")
    s = cmd.add_parser("set", help="store a secret; the value is read from stdin or a hidden prompt")
    s.add_argument("name", help="e.g. exchange.binance.api_key")
    g = cmd.add_parser("get", help="print a secret's value")
    g.add_argument("name")
    g.add_argument("--json", action="store_true", help='print {"name", "value", "version"}')
    ls = cmd.add_parser("list", help="names, versions and update times (never values)")
    ls.add_argument("--json", action="store_true")
    d = cmd.add_parser("delete", help="remove a secret")
    d.add_argument("name")
    r = cmd.add_parser(
        "rotate",
        help=f"re-encrypt under a new master key ({NEW_PASSPHRASE_ENV}, a prompt or --new-key-file)",
    )
    r.add_argument("--new-key-file", default=None, help="switch to this key file")
    k = cmd.add_parser("keygen", help="write a new random key file (mode 0600) for a key-file vault")
    k.add_argument("path")


def run(
    settings: Settings,
    args: argparse.Namespace,
    *,
    environ: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run one ``secrets`` subcommand: 0 on success, 2 with a one-line message on a vault error."""
    env = os.environ if environ is None else environ
    inp = sys.stdin if stdin is None else stdin
    try:
        return _dispatch(settings, args, env, inp)
    except (VaultError, ValueError, OSError) as exc:
        print(f"shriven secrets: {exc}", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        print("shriven secrets: cancelled", file=sys.stderr)
        return 2


def _dispatch(settings: Settings, args: argparse.Namespace, env: Mapping[str, str], inp: TextIO) -> int:
    command = args.secrets_command
    if command == "keygen":
        path = generate_key_file(args.path)
        print(f"wrote a new key file {path} (mode 0600); point {KEY_FILE_ENV} at it", file=sys.stderr)
        return 0
    path = Path(args.vault) if args.vault else default_vault_path(settings)
    if command == "init":
        master = _master_key(env, inp, new=True)
        Vault.create(path, master)
        print(f"created vault {path}", file=sys.stderr)
        return 0
    vault = Vault.open(path, _master_key(env, inp, new=False))
    if command == "set":
        value = _read_value(args.name, inp)
        info = vault.set(args.name, value)
        print(f"set {info.name} (version {info.version})", file=sys.stderr)
    elif command == "get":
        secret = vault.get(args.name)
        if args.json:
            version = next(i.version for i in vault.list() if i.name == args.name)
            print(json.dumps({"name": args.name, "value": secret.reveal(), "version": version}))
        else:
            print(secret.reveal())
    elif command == "list":
        infos = vault.list()
        if args.json:
            rows = [{"name": i.name, "version": i.version, "created_at": i.created_at,
                     "updated_at": i.updated_at} for i in infos]
            print(json.dumps(rows))
        elif not infos:
            print(f"no secrets in {path}", file=sys.stderr)
        else:
            width = max(len(i.name) for i in infos)
            for i in infos:
                updated = datetime.fromtimestamp(i.updated_at, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")
                print(f"{i.name:<{width}}  v{i.version:<4} {updated}")
    elif command == "delete":
        if not vault.delete(args.name):
            raise SecretNotFound(f"no secret named {args.name} in vault {path}")
        print(f"deleted {args.name}", file=sys.stderr)
    elif command == "rotate":
        new_master = _new_master_key(args, env, inp)
        vault.rotate(new_master)
        variable = KEY_FILE_ENV if new_master.kind == "keyfile" else PASSPHRASE_ENV
        print(f"rotated {path}; the old master key no longer opens it (update {variable})", file=sys.stderr)
    else:  # argparse only lets the subcommands above through
        raise ValueError(f"unknown secrets command {command!r}")
    return 0


def _master_key(env: Mapping[str, str], inp: TextIO, *, new: bool) -> MasterKey:
    """From the environment, else a hidden prompt on a terminal (twice for a new vault)."""
    if env.get(PASSPHRASE_ENV) or env.get(KEY_FILE_ENV):
        master = MasterKey.from_environ(env)
        if new and master.kind == "scrypt":
            _check_new_passphrase(master.material.decode())
        return master
    if not _isatty(inp):
        raise VaultError(
            f"no vault master key: set {PASSPHRASE_ENV} or {KEY_FILE_ENV} "
            "(stdin is not a terminal, so there is no prompt)"
        )
    if new:
        return MasterKey.from_passphrase(_prompt_twice("New vault passphrase"))
    return MasterKey.from_passphrase(getpass.getpass("Vault passphrase: "))


def _new_master_key(args: argparse.Namespace, env: Mapping[str, str], inp: TextIO) -> MasterKey:
    if args.new_key_file:
        return MasterKey.from_key_file(args.new_key_file)
    passphrase = env.get(NEW_PASSPHRASE_ENV)
    if passphrase:
        _check_new_passphrase(passphrase)
        return MasterKey.from_passphrase(passphrase)
    if not _isatty(inp):
        raise VaultError(
            f"no new master key: set {NEW_PASSPHRASE_ENV}, pass --new-key-file PATH, "
            "or run on a terminal to be prompted"
        )
    return MasterKey.from_passphrase(_prompt_twice("New vault passphrase"))


def _read_value(name: str, inp: TextIO) -> str:
    """The value from piped stdin (one trailing newline dropped), else a hidden prompt twice."""
    if _isatty(inp):
        value = _prompt_twice(f"Value of {name}", check=False)
    else:
        value = inp.read()
        if value.endswith("\r\n"):
            value = value[:-2]
        elif value.endswith("\n"):
            value = value[:-1]
    if not value:
        raise ValueError(f"no value given for {name} (pipe it on stdin or type it at the prompt)")
    return value


def _prompt_twice(label: str, *, check: bool = True) -> str:
    first = getpass.getpass(f"{label}: ")
    if check:
        _check_new_passphrase(first)
    if getpass.getpass(f"{label} (again): ") != first:
        raise ValueError("the two entries differ; nothing was changed")
    return first


def _check_new_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_NEW_PASSPHRASE:
        raise ValueError(f"a new vault passphrase needs at least {MIN_NEW_PASSPHRASE} characters")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
