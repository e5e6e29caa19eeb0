"""`shriven secrets ...`: values from stdin or prompts, one-line errors, nothing leaked."""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import secrets as secrets_cli
from shriven.config import Settings, load_settings
from shriven.security.vault import MasterKey, Vault, WrongPassphrase, default_vault_path

PASSPHRASE = "cli-test-passphrase-AAA"
NEW_PASSPHRASE = "cli-rotated-passphrase-BBB"
VALUE = "sk-cli-secret-value-42-unique"


class TtyInput(io.StringIO):
    """A stdin that claims to be a terminal, so the CLI prompts instead of reading it."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("SHRIVEN_VAULT_PASSPHRASE", "SHRIVEN_VAULT_KEY_FILE", "SHRIVEN_VAULT_NEW_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHRIVEN_VAULT_PASSPHRASE", PASSPHRASE)
    return load_settings(environ={"SHRIVEN_DATA_DIR": str(tmp_path)})


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="shriven")
    sub = parser.add_subparsers(dest="command", required=True)
    secrets_cli.add_parser(sub)
    return parser.parse_args(argv)


def run(settings: Settings, monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return secrets_cli.run(settings, parse(["secrets", *argv]))


def prompts(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> Iterator[str]:
    it = iter(answers)
    monkeypatch.setattr(secrets_cli.getpass, "getpass", lambda prompt="": next(it))
    monkeypatch.setattr(sys, "stdin", TtyInput(""))
    return it


def test_init_set_get_list_delete(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(settings, monkeypatch, ["init"]) == 0
    assert run(settings, monkeypatch, ["set", "exchange.binance.secret"], stdin=VALUE + "\n") == 0
    capsys.readouterr()
    assert run(settings, monkeypatch, ["get", "exchange.binance.secret"]) == 0
    assert capsys.readouterr().out == VALUE + "\n"
    assert run(settings, monkeypatch, ["get", "exchange.binance.secret", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "name": "exchange.binance.secret", "value": VALUE, "version": 1,
    }
    assert run(settings, monkeypatch, ["set", "exchange.binance.secret"], stdin="v2-value\n") == 0
    assert run(settings, monkeypatch, ["list"]) == 0
    out = capsys.readouterr().out
    assert "exchange.binance.secret" in out
    assert "v2" in out
    assert "v2-value" not in out
    assert run(settings, monkeypatch, ["list", "--json"]) == 0
    assert [row["version"] for row in json.loads(capsys.readouterr().out)] == [2]
    assert run(settings, monkeypatch, ["delete", "exchange.binance.secret"]) == 0
    assert run(settings, monkeypatch, ["delete", "exchange.binance.secret"]) == 2
    assert "no secret named exchange.binance.secret" in capsys.readouterr().err


def test_multi_line_value_keeps_inner_newlines(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pem = "-----BEGIN KEY-----\nabc\ndef\n-----END KEY-----"
    assert run(settings, monkeypatch, ["init"]) == 0
    assert run(settings, monkeypatch, ["set", "pem.key"], stdin=pem + "\n") == 0
    vault = Vault.open(default_vault_path(settings), MasterKey.from_passphrase(PASSPHRASE))
    assert vault.get("pem.key").reveal() == pem


def test_value_is_never_taken_from_argv(settings: Settings) -> None:
    with pytest.raises(SystemExit):
        parse(["secrets", "set", "exchange.binance.secret", VALUE])


def test_wrong_passphrase_is_one_line_exit_2(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(settings, monkeypatch, ["init"]) == 0
    assert run(settings, monkeypatch, ["set", "a.b"], stdin=VALUE) == 0
    capsys.readouterr()
    monkeypatch.setenv("SHRIVEN_VAULT_PASSPHRASE", "not-the-passphrase-999")
    assert run(settings, monkeypatch, ["get", "a.b"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("\n") == 1
    assert out.err.startswith("shriven secrets: ")
    assert "wrong passphrase or key file, or the vault file was modified" in out.err
    for needle in ("Traceback", VALUE, PASSPHRASE, "not-the-passphrase-999"):
        assert needle not in out.err


@pytest.mark.parametrize(
    ("argv", "stdin", "expected"),
    [
        (["get", "missing.name"], "", "no secret named missing.name"),
        (["set", "bad name"], VALUE, "invalid secret name"),
        (["set", "empty.value"], "\n", "no value given"),
        (["init"], "", "already exists"),
        (["rotate"], "", "SHRIVEN_VAULT_NEW_PASSPHRASE"),
    ],
)
def test_errors_exit_2_with_a_safe_message(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin: str,
    expected: str,
) -> None:
    assert run(settings, monkeypatch, ["init"]) == 0
    capsys.readouterr()
    assert run(settings, monkeypatch, argv, stdin=stdin) == 2
    err = capsys.readouterr().err
    assert err.startswith("shriven secrets: ")
    assert expected in err
    assert err.count("\n") == 1
    assert VALUE not in err
    assert PASSPHRASE not in err


def test_no_master_key_and_no_terminal(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SHRIVEN_VAULT_PASSPHRASE")
    assert run(settings, monkeypatch, ["list"]) == 2
    err = capsys.readouterr().err
    assert "SHRIVEN_VAULT_PASSPHRASE" in err
    assert "SHRIVEN_VAULT_KEY_FILE" in err


def test_rotate_with_new_passphrase_from_env(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(settings, monkeypatch, ["init"]) == 0
    assert run(settings, monkeypatch, ["set", "a.b"], stdin=VALUE) == 0
    monkeypatch.setenv("SHRIVEN_VAULT_NEW_PASSPHRASE", NEW_PASSPHRASE)
    assert run(settings, monkeypatch, ["rotate"]) == 0
    path = default_vault_path(settings)
    with pytest.raises(WrongPassphrase):
        Vault.open(path, MasterKey.from_passphrase(PASSPHRASE))
    assert Vault.open(path, MasterKey.from_passphrase(NEW_PASSPHRASE)).get("a.b").reveal() == VALUE
    err = capsys.readouterr().err
    assert NEW_PASSPHRASE not in err
    assert VALUE not in err


def test_keygen_and_rotate_to_a_key_file(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = tmp_path / "vault.key"
    assert run(settings, monkeypatch, ["keygen", str(key)]) == 0
    assert run(settings, monkeypatch, ["keygen", str(key)]) == 2  # never overwrites
    assert run(settings, monkeypatch, ["init"]) == 0
    assert run(settings, monkeypatch, ["set", "a.b"], stdin=VALUE) == 0
    assert run(settings, monkeypatch, ["rotate", "--new-key-file", str(key)]) == 0
    monkeypatch.delenv("SHRIVEN_VAULT_PASSPHRASE")
    monkeypatch.setenv("SHRIVEN_VAULT_KEY_FILE", str(key))
    assert run(settings, monkeypatch, ["get", "a.b"]) == 0


def test_prompts_on_a_terminal(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("SHRIVEN_VAULT_PASSPHRASE")
    vault_file = str(tmp_path / "other" / "secrets.vault")
    prompts(monkeypatch, [PASSPHRASE, PASSPHRASE])
    assert secrets_cli.run(settings, parse(["secrets", "--vault", vault_file, "init"])) == 0
    prompts(monkeypatch, [PASSPHRASE, VALUE, VALUE])  # master once, then the value twice
    assert secrets_cli.run(settings, parse(["secrets", "--vault", vault_file, "set", "a.b"])) == 0
    prompts(monkeypatch, [PASSPHRASE, VALUE, VALUE + "typo"])
    assert secrets_cli.run(settings, parse(["secrets", "--vault", vault_file, "set", "a.b"])) == 2
    assert "the two entries differ" in capsys.readouterr().err
    prompts(monkeypatch, [PASSPHRASE, "short", "short"])
    assert secrets_cli.run(settings, parse(["secrets", "--vault", vault_file, "rotate"])) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    prompts(monkeypatch, [PASSPHRASE])
    assert secrets_cli.run(settings, parse(["secrets", "--vault", vault_file, "get", "a.b"])) == 0
    assert capsys.readouterr().out == VALUE + "\n"
    assert Vault.open(vault_file, MasterKey.from_passphrase(PASSPHRASE)).list()[0].version == 1
