"""The secrets vault: round trips, authentication, tampering, rotation, locking, no leaks."""

from __future__ import annotations

import copy
import json
import logging
import multiprocessing
import pickle
import stat
from pathlib import Path

import pytest

from shriven.config import load_settings
from shriven.security.vault import (
    KEY_FILE_ENV,
    PASSPHRASE_ENV,
    SCRYPT_N,
    VAULT_FILE_NAME,
    MasterKey,
    Secret,
    SecretInfo,
    SecretNotFound,
    Vault,
    VaultError,
    WrongPassphrase,
    default_vault_path,
    generate_key_file,
)

PASSPHRASE = "correct-horse-battery-staple-PASS"
OTHER_PASSPHRASE = "totally-different-passphrase-XYZ"
VALUES = {
    "exchange.binance.api_key": "AKIA-binance-key-9f8e7d6c",
    "exchange.binance.secret": "sk_live_5up3r-s3cr3t-VALUE",
    "telegram.token": "12345:tg-token-QQQ-unique",
}
FAST_N = 2**10  # scrypt cost for tests; the default is checked separately


class FakeClock:
    """A clock the test advances by hand."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def fast_master(passphrase: str = PASSPHRASE) -> MasterKey:
    return MasterKey.from_passphrase(passphrase, scrypt_n=FAST_N)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / VAULT_FILE_NAME


@pytest.fixture
def filled(path: Path) -> Vault:
    vault = Vault.create(path, fast_master(), clock=FakeClock())
    for name, value in VALUES.items():
        vault.set(name, value)
    return vault


def header_of(path: Path) -> dict:
    return json.loads(path.read_bytes().split(b"\n")[0])


def test_round_trip_through_a_new_vault_object(filled: Vault, path: Path) -> None:
    reopened = Vault.open(path, fast_master())
    for name, value in VALUES.items():
        assert reopened.get(name).reveal() == value
        assert reopened.get(name) == Secret(value)
    assert [info.name for info in reopened.list()] == sorted(VALUES)
    assert reopened.reveal_all() == set(VALUES.values())
    assert reopened.get_optional("missing.name") is None


def test_a_long_lived_vault_sees_another_objects_writes(filled: Vault, path: Path) -> None:
    other = Vault.open(path, fast_master())
    other.set("late.addition", "added-by-other-object")
    assert filled.get("late.addition").reveal() == "added-by-other-object"
    filled.set("later.still", "second-writer")
    assert {i.name for i in other.list()} == set(VALUES) | {"late.addition", "later.still"}


def test_version_increments_and_created_at_is_kept(path: Path) -> None:
    clock = FakeClock(100.0)
    vault = Vault.create(path, fast_master(), clock=clock)
    first = vault.set("api.token", "value-one-aaaa")
    clock.now = 250.0
    second = vault.set("api.token", Secret("value-two-bbbb"))
    assert first == SecretInfo("api.token", 1, 100.0, 100.0)
    assert second == SecretInfo("api.token", 2, 100.0, 250.0)
    assert vault.get("api.token").reveal() == "value-two-bbbb"
    assert vault.list() == [second]


def test_delete_and_missing_names(filled: Vault) -> None:
    assert filled.delete("telegram.token") is True
    assert filled.delete("telegram.token") is False
    with pytest.raises(SecretNotFound, match="no secret named telegram.token") as info:
        filled.get("telegram.token")
    assert isinstance(info.value, KeyError)
    assert str(info.value).startswith("no secret named")  # not KeyError's quoted form


@pytest.mark.parametrize(
    "name", ["", "has space", "x" * 129, "slash/name", "caf\u00e9", "new\nline", "semi;colon"]
)
def test_invalid_names_are_rejected_without_echoing_them(filled: Vault, name: str) -> None:
    with pytest.raises(ValueError, match="invalid secret name") as info:
        filled.set(name, "some-value-123")
    if name:
        assert name not in str(info.value)
    with pytest.raises(ValueError, match="invalid secret name"):
        filled.get(name)


def test_longest_valid_name_and_empty_value(filled: Vault) -> None:
    name = "A-z_0.9" + "x" * 121
    assert filled.set(name, "v").name == name
    with pytest.raises(ValueError, match="empty value"):
        filled.set("empty.value", "")


def test_wrong_passphrase_raises_cleanly(filled: Vault, path: Path) -> None:
    with pytest.raises(WrongPassphrase) as info:
        Vault.open(path, fast_master(OTHER_PASSPHRASE))
    message = str(info.value)
    assert "wrong passphrase or key file, or the vault file was modified" in message
    assert OTHER_PASSPHRASE not in message
    assert PASSPHRASE not in message
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_every_flipped_byte_is_detected(filled: Vault, path: Path) -> None:
    original = path.read_bytes()
    for offset in range(len(original)):
        damaged = bytearray(original)
        damaged[offset] ^= 0x01
        path.write_bytes(bytes(damaged))
        with pytest.raises(VaultError):
            Vault.open(path, fast_master())
    path.write_bytes(original[:-7])
    with pytest.raises(VaultError):
        Vault.open(path, fast_master())
    path.write_bytes(original)
    assert Vault.open(path, fast_master()).get("telegram.token").reveal() == VALUES["telegram.token"]


def test_a_tampered_huge_scrypt_cost_is_refused_before_deriving(filled: Vault, path: Path) -> None:
    header_line, rest = path.read_bytes().split(b"\n", 1)
    path.write_bytes(header_line.replace(b'"n":1024', b'"n":1073741824') + b"\n" + rest)
    with pytest.raises(VaultError, match="unsupported scrypt parameters"):
        Vault.open(path, fast_master())


def test_default_scrypt_cost_is_stored_in_the_header(path: Path) -> None:
    Vault.create(path, MasterKey.from_passphrase(PASSPHRASE)).set("a.b", "value-x-1")
    kdf = header_of(path)["kdf"]
    assert (kdf["name"], kdf["n"], kdf["r"], kdf["p"]) == ("scrypt", SCRYPT_N, 8, 1)
    assert Vault.open(path, MasterKey.from_passphrase(PASSPHRASE)).get("a.b").reveal() == "value-x-1"


def test_key_file_master(tmp_path: Path, path: Path) -> None:
    key_path = generate_key_file(tmp_path / "vault.key")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        generate_key_file(key_path)
    vault = Vault.create(path, MasterKey.from_key_file(key_path))
    vault.set("exchange.kraken.secret", "kraken-secret-777")
    assert header_of(path)["kdf"]["name"] == "keyfile"
    again = Vault.open(path, MasterKey.from_key_file(key_path))
    assert again.get("exchange.kraken.secret").reveal() == "kraken-secret-777"
    with pytest.raises(WrongPassphrase, match="locked by a key file"):
        Vault.open(path, fast_master())
    other_key = generate_key_file(tmp_path / "other.key")
    with pytest.raises(WrongPassphrase):
        Vault.open(path, MasterKey.from_key_file(other_key))
    short = tmp_path / "short.key"
    short.write_text("too-short")
    with pytest.raises(VaultError, match="at least 32"):
        MasterKey.from_key_file(short)
    with pytest.raises(VaultError, match="does not exist"):
        MasterKey.from_key_file(tmp_path / "nope.key")


def test_rotate_re_encrypts_under_the_new_master(filled: Vault, path: Path, tmp_path: Path) -> None:
    old_salt = header_of(path)["kdf"]["salt"]
    filled.rotate(fast_master(OTHER_PASSPHRASE))
    assert header_of(path)["kdf"]["salt"] != old_salt
    with pytest.raises(WrongPassphrase):
        Vault.open(path, fast_master())
    rotated = Vault.open(path, fast_master(OTHER_PASSPHRASE))
    assert {i.name: rotated.get(i.name).reveal() for i in rotated.list()} == VALUES
    filled.set("after.rotate", "still-works-with-new")  # the rotating object switched keys
    assert rotated.get("after.rotate").reveal() == "still-works-with-new"
    key_path = generate_key_file(tmp_path / "rotated.key")
    rotated.rotate(MasterKey.from_key_file(key_path))
    with pytest.raises(WrongPassphrase):
        Vault.open(path, fast_master(OTHER_PASSPHRASE))
    assert Vault.open(path, MasterKey.from_key_file(key_path)).reveal_all() == (
        set(VALUES.values()) | {"still-works-with-new"}
    )


def test_file_mode_and_bytes_hold_no_secret(filled: Vault, path: Path) -> None:
    filled.set("exchange.binance.secret", VALUES["exchange.binance.secret"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for file in path.parent.iterdir():  # the vault, its lock file, no temp files left over
        data = file.read_bytes()
        for needle in [*VALUES.values(), PASSPHRASE]:
            assert needle.encode() not in data
    assert sorted(f.name for f in path.parent.iterdir()) == [VAULT_FILE_NAME, VAULT_FILE_NAME + ".lock"]


def test_create_open_and_open_or_create(path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="shriven secrets init") as info:
        Vault.open(path, fast_master())
    assert str(path) in str(info.value)
    created = Vault.open_or_create(path, fast_master())
    created.set("x.y", "value-xy-123")
    with pytest.raises(FileExistsError):
        Vault.create(path, fast_master())
    assert Vault.open_or_create(path, fast_master()).get("x.y").reveal() == "value-xy-123"


def test_master_key_from_environ(tmp_path: Path) -> None:
    with pytest.raises(VaultError) as info:
        MasterKey.from_environ({})
    assert PASSPHRASE_ENV in str(info.value)
    assert KEY_FILE_ENV in str(info.value)
    assert MasterKey.from_environ({PASSPHRASE_ENV: PASSPHRASE}).kind == "scrypt"
    key_path = generate_key_file(tmp_path / "env.key")
    assert MasterKey.from_environ({KEY_FILE_ENV: str(key_path)}).kind == "keyfile"
    with pytest.raises(VaultError, match="set only one"):
        MasterKey.from_environ({PASSPHRASE_ENV: PASSPHRASE, KEY_FILE_ENV: str(key_path)})
    with pytest.raises(VaultError, match="empty"):
        MasterKey.from_passphrase("")


def test_secret_value_type() -> None:
    secret = Secret("hunter2-value")
    assert repr(secret) == str(secret) == f"{secret}" == f"{secret!r}" == "Secret('***')"
    assert secret == Secret("hunter2-value")
    assert secret != Secret("hunter3-value")
    assert secret != "hunter2-value"
    with pytest.raises(TypeError):
        hash(secret)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(AttributeError):
        secret._value = "changed"
    assert copy.deepcopy(secret) is secret
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]


def test_default_vault_path(tmp_path: Path) -> None:
    settings = load_settings(environ={"SHRIVEN_DATA_DIR": str(tmp_path)})
    assert default_vault_path(settings) == Path(settings.state_dir) / "secrets.vault"


def test_nothing_leaks_into_reprs_errors_or_logs(
    path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    master = fast_master()
    seen += [repr(master), str(master)]
    vault = Vault.create(path, master)
    for name, value in VALUES.items():
        info = vault.set(name, value)
        seen += [repr(info), repr(vault.get(name)), str(vault.get(name)), repr(vault.list())]
    seen.append(repr(vault))
    for attempt in (
        lambda: Vault.open(path, fast_master(OTHER_PASSPHRASE)),
        lambda: vault.get("absent.name"),
        lambda: vault.set("bad name", VALUES["telegram.token"]),
        lambda: vault.set(VALUES["telegram.token"], "x"),  # a value pasted as a name
        lambda: Vault.create(path, master),
    ):
        with pytest.raises(Exception) as info:  # noqa: PT011 - any error, checked for leaks
            attempt()
        seen += [str(info.value), repr(info.value)]
    vault.rotate(fast_master(OTHER_PASSPHRASE))
    vault.delete("telegram.token")
    out = capsys.readouterr()
    text = "\n".join([*seen, caplog.text, out.out, out.err, *(r.getMessage() for r in caplog.records)])
    assert caplog.records  # the vault does log, just never values
    for needle in [*VALUES.values(), PASSPHRASE, OTHER_PASSPHRASE]:
        assert needle not in text


def _hammer(path: str, worker: int, rounds: int) -> None:
    vault = Vault.open(path, fast_master())
    for i in range(rounds):
        vault.set(f"worker{worker}.n{i}", f"value-{worker}-{i}")
        vault.set("shared.counter", f"from-{worker}-{i}")


def test_concurrent_sets_from_two_processes_lose_nothing(path: Path) -> None:
    Vault.create(path, fast_master())
    rounds = 25
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_hammer, args=(str(path), w, rounds)) for w in (1, 2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    vault = Vault.open(path, fast_master())
    infos = {i.name: i for i in vault.list()}
    assert len(infos) == 2 * rounds + 1
    assert infos["shared.counter"].version == 2 * rounds  # every read-modify-write counted
    assert vault.get("worker2.n24").reveal() == "value-2-24"
