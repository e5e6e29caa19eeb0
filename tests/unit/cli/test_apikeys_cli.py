"""`shriven apikey`: create prints the key once, list shows no secrets, revoke takes effect."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path

import pytest

from cli.apikeys import add_parser, run, store_path
from shriven.config import Settings, load_settings
from shriven.security.api_keys import ApiKeyStore, AuthError


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environ={"SHRIVEN_DATA_DIR": str(tmp_path)})


def _shriven(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="shriven")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    assert args.command == "apikey"
    return run(settings, args)


def test_store_lives_in_the_state_dir(settings: Settings, tmp_path: Path) -> None:
    assert store_path(settings) == tmp_path / "state" / "security" / "api_keys.json"


def test_create_prints_key_once_with_warning(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert _shriven(settings, "apikey", "create", "--subject", "alice", "--role", "trader") == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert key.startswith("sqk_")
    assert "\n" not in key
    assert "only once" in err
    path = store_path(settings)
    assert key.split("_", 2)[2] not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    principal = ApiKeyStore(path).authenticate(key)
    assert (principal.subject, principal.role.value) == ("alice", "trader")


def test_list_shows_keys_without_secrets(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert _shriven(settings, "apikey", "list") == 0
    assert "no API keys" in capsys.readouterr().out
    _shriven(settings, "apikey", "create", "--subject", "alice", "--role", "admin")
    key = capsys.readouterr().out.strip()
    _shriven(settings, "apikey", "create", "--subject", "feed-bot", "--role", "viewer")
    capsys.readouterr()
    assert _shriven(settings, "apikey", "list") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["KEY_ID", "SUBJECT", "ROLE", "CREATED", "(UTC)", "STATUS"]
    assert len(lines) == 3
    assert key.split("_")[1] in out
    assert "alice" in out
    assert "feed-bot" in out
    assert "viewer" in out
    assert key.split("_", 2)[2] not in out


def test_revoke(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    _shriven(settings, "apikey", "create", "--subject", "alice", "--role", "trader")
    key = capsys.readouterr().out.strip()
    key_id = key.split("_")[1]
    assert _shriven(settings, "apikey", "revoke", key_id) == 0
    assert f"revoked {key_id}" in capsys.readouterr().out
    with pytest.raises(AuthError, match="revoked"):
        ApiKeyStore(store_path(settings)).authenticate(key)
    assert _shriven(settings, "apikey", "revoke", key_id) == 1
    assert "no active key" in capsys.readouterr().err
    _shriven(settings, "apikey", "list")
    assert "revoked" in capsys.readouterr().out


def test_bad_role_and_subject_are_refused(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _shriven(settings, "apikey", "create", "--subject", "alice", "--role", "root")
    assert _shriven(settings, "apikey", "create", "--subject", " ", "--role", "viewer") == 2
    assert "subject" in capsys.readouterr().err
    assert not store_path(settings).exists()
