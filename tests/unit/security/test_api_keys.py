"""API keys: hashed at rest, refused for every bad reason, revocation seen across stores, no lost writes."""

from __future__ import annotations

import json
import multiprocessing
import stat
import threading
from pathlib import Path

import pytest

from shriven.security.api_keys import ApiKeyInfo, ApiKeyStore, AuthError
from shriven.security.roles import Principal, Role

T0 = 1_767_225_600.0


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "security" / "api_keys.json"


@pytest.fixture
def store(path: Path) -> ApiKeyStore:
    return ApiKeyStore(path, clock=lambda: T0)


def _reason(store: ApiKeyStore, key: object) -> str:
    with pytest.raises(AuthError) as info:
        store.authenticate(key)  # type: ignore[arg-type]
    return info.value.reason


def test_create_then_authenticate(store: ApiKeyStore) -> None:
    key = store.create("alice", Role.TRADER)
    prefix, key_id, secret = key.split("_", 2)
    assert prefix == "sqk"
    assert len(key_id) == 12
    assert int(key_id, 16) >= 0
    assert len(secret) == 43
    assert store.authenticate(key) == Principal("alice", Role.TRADER, key_id=key_id)
    # The cached path gives the same answer.
    assert store.authenticate(key) == Principal("alice", Role.TRADER, key_id=key_id)


def test_another_store_on_the_same_file_authenticates(store: ApiKeyStore, path: Path) -> None:
    key = store.create("svc", Role.VIEWER)
    assert ApiKeyStore(path).authenticate(key).role is Role.VIEWER


def test_wrong_secret_is_unknown_key(store: ApiKeyStore) -> None:
    key = store.create("alice", Role.ADMIN)
    store.authenticate(key)  # warm the cache: a wrong secret must not ride on it
    last = "A" if key[-1] != "A" else "B"
    assert _reason(store, key[:-1] + last) == "unknown_key"


def test_unknown_id(store: ApiKeyStore) -> None:
    key = store.create("alice", Role.ADMIN)
    assert _reason(store, "sqk_" + "0" * 12 + key[-44:]) == "unknown_key"


def test_unknown_key_on_empty_store(tmp_path: Path) -> None:
    empty = ApiKeyStore(tmp_path / "missing.json")
    assert not empty.has_keys()
    assert empty.list() == []
    assert _reason(empty, "sqk_0123456789ab_" + "x" * 43) == "unknown_key"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "garbage",
        "sqk_0123456789ab",
        "sqk_0123456789AB_" + "x" * 43,  # upper-case id
        "sqk_0123456789a_" + "x" * 43,  # short id
        "sqk_0123456789ab_" + "x" * 42,  # short secret
        "xyz_0123456789ab_" + "x" * 43,
        "sqk_0123456789ab_" + "x" * 42 + "!",
        " sqk_0123456789ab_" + "x" * 43,
        None,
        42,
    ],
)
def test_malformed(store: ApiKeyStore, key: object) -> None:
    assert _reason(store, key) == "malformed"


def test_revoke_by_another_store_is_seen(store: ApiKeyStore, path: Path) -> None:
    key = store.create("alice", Role.TRADER)
    other_key = store.create("bob", Role.TRADER)
    store.authenticate(key)  # cached
    key_id = key.split("_")[1]
    admin = ApiKeyStore(path, clock=lambda: T0 + 10)
    assert admin.revoke(key_id) is True
    assert admin.revoke(key_id) is False  # already revoked
    assert admin.revoke("ffffffffffff") is False
    assert admin.revoke("not-an-id") is False
    assert _reason(store, key) == "revoked"
    assert store.authenticate(other_key).subject == "bob"
    info = {i.key_id: i for i in store.list()}[key_id]
    assert info.revoked_at == T0 + 10
    assert not info.active


def test_file_holds_no_plaintext_and_is_private(store: ApiKeyStore, path: Path) -> None:
    key = store.create("alice", Role.TRADER)
    secret = key.split("_", 2)[2]
    text = path.read_text()
    assert secret not in text
    assert key not in text
    document = json.loads(text)
    (record,) = document["keys"]
    assert record["kdf"] == "scrypt:16384:8:1"
    assert len(bytes.fromhex(record["salt"])) == 16
    assert len(bytes.fromhex(record["hash"])) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.with_name("api_keys.json.lock").stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_salts_differ_per_key(store: ApiKeyStore, path: Path) -> None:
    store.create("a", Role.VIEWER)
    store.create("b", Role.VIEWER)
    salts = {r["salt"] for r in json.loads(path.read_text())["keys"]}
    assert len(salts) == 2


def test_list_shows_no_hashes(store: ApiKeyStore, path: Path) -> None:
    key = store.create("alice", Role.ADMIN)
    infos = store.list()
    assert infos == [ApiKeyInfo(key.split("_")[1], "alice", Role.ADMIN, T0, None)]
    (stored,) = json.loads(path.read_text())["keys"]
    text = repr(infos) + repr(store) + repr(store._current())
    for value in (stored["hash"], stored["salt"], key.split("_", 2)[2]):
        assert value not in text
    assert store.has_keys()


def test_has_keys_stays_true_after_revoking_all(store: ApiKeyStore) -> None:
    key = store.create("alice", Role.ADMIN)
    store.revoke(key.split("_")[1])
    assert store.has_keys()


def test_error_message_has_no_key_material(store: ApiKeyStore) -> None:
    key = store.create("alice", Role.ADMIN)
    for candidate in (key[:-1] + "_", "sqk_" + "0" * 12 + key[-44:]):
        with pytest.raises(AuthError) as info:
            store.authenticate(candidate)
        assert key.split("_", 2)[2][:-1] not in str(info.value) + repr(info.value)


@pytest.mark.parametrize(("subject", "role"), [("", Role.ADMIN), ("a\nb", Role.ADMIN), ("x" * 200, Role.ADMIN), ("ok", "root")])
def test_create_rejects_bad_input(store: ApiKeyStore, subject: str, role: Role) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        store.create(subject, role)


def test_corrupt_file_fails_closed(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="corrupt"):
        ApiKeyStore(path).authenticate("sqk_0123456789ab_" + "x" * 43)


def test_concurrent_threads_lose_no_key(path: Path) -> None:
    stores = [ApiKeyStore(path) for _ in range(4)]
    keys: list[str] = []
    lock = threading.Lock()

    def create(store: ApiKeyStore, n: int) -> None:
        for i in range(3):
            key = store.create(f"s{n}-{i}", Role.VIEWER)
            with lock:
                keys.append(key)

    threads = [threading.Thread(target=create, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fresh = ApiKeyStore(path)
    assert len(fresh.list()) == 12
    assert {fresh.authenticate(k).subject for k in keys} == {f"s{n}-{i}" for n in range(4) for i in range(3)}


def _create_in_process(path: str, n: int, queue: multiprocessing.Queue) -> None:
    store = ApiKeyStore(path)
    queue.put([store.create(f"p{n}-{i}", Role.TRADER) for i in range(3)])


def test_concurrent_processes_lose_no_key(path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_create_in_process, args=(str(path), n, queue)) for n in range(3)]
    for p in procs:
        p.start()
    keys = [k for _ in procs for k in queue.get(timeout=60)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    store = ApiKeyStore(path)
    assert len(store.list()) == 9
    assert all(store.authenticate(k).role is Role.TRADER for k in keys)


def test_repeated_authentication_skips_scrypt(
    store: ApiKeyStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shriven.security.api_keys as api_keys

    key = store.create("alice", Role.TRADER)
    other = store.create("bob", Role.TRADER)
    calls: list[int] = []
    real_hash = api_keys._hash

    def counting_hash(secret: str, salt: bytes) -> bytes:
        calls.append(1)
        return real_hash(secret, salt)

    monkeypatch.setattr(api_keys, "_hash", counting_hash)
    for _ in range(5):
        store.authenticate(key)
    assert len(calls) == 1
    ApiKeyStore(path).revoke(other.split("_")[1])  # the file changes: the cache entry survives
    store.authenticate(key)
    assert len(calls) == 1
