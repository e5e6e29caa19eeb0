"""Settings: the packaged defaults, the environment and TOML files, and what they reject."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shriven.config import (
    CONFIG_ENV,
    DATA_DIR_ENV,
    INTERVALS_NS,
    LOCAL_DIR_ENV,
    Settings,
    SyntheticConfig,
    load_settings,
)

SYMBOL = textwrap.dedent(
    """
    [[symbols]]
    symbol = "{symbol}"
    name = "{symbol} Inc"
    sector = "tech"
    price = 10.0
    volatility = 0.2
    """
)


@pytest.fixture(autouse=True)
def _no_local_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where no ./shriven.toml exists, so the packaged default is what loads."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


def _write(tmp_path: Path, text: str, name: str = "settings.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_default_settings_load_with_twenty_unique_symbols() -> None:
    settings = load_settings(environ={})
    assert isinstance(settings, Settings)
    assert len(settings.universe) == 20
    assert len(set(settings.universe)) == 20
    assert all(s.price > 0 and s.volatility > 0 for s in settings.symbols)
    assert settings.aggregation.intervals == tuple(INTERVALS_NS)
    assert settings.synthetic.session_bounds_s() == (13 * 3600 + 30 * 60, 20 * 3600)
    first = settings.universe[0]
    assert settings.symbol(first).symbol == first


def test_default_data_dir_is_absolute_under_the_working_directory() -> None:
    settings = load_settings(environ={})
    assert settings.data_dir == str(Path("data").resolve())
    assert settings.lake_root == settings.data_dir + "/lake"
    assert settings.warehouse_path == settings.data_dir + "/warehouse.duckdb"
    assert settings.state_dir == settings.data_dir + "/state"


def test_data_dir_env_overrides(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    settings = load_settings(environ={DATA_DIR_ENV: str(target)})
    assert settings.data_dir == str(target)
    assert settings.lake_root == f"{target}/lake"


def test_data_dir_env_overrides_the_file_and_keeps_urls(tmp_path: Path) -> None:
    path = _write(tmp_path, 'data_dir = "/from/file"\n' + SYMBOL.format(symbol="AAA"))
    assert load_settings(environ={CONFIG_ENV: str(path)}).data_dir == "/from/file"
    settings = load_settings(environ={CONFIG_ENV: str(path), DATA_DIR_ENV: "s3://bucket/shriven/"})
    assert settings.data_dir == "s3://bucket/shriven/"
    assert settings.lake_root == "s3://bucket/shriven/lake"


def test_a_local_data_dir_keeps_everything_in_it(tmp_path: Path) -> None:
    settings = load_settings(environ={DATA_DIR_ENV: str(tmp_path)})
    assert not settings.lake_is_remote
    assert settings.local_root == str(tmp_path)
    assert settings.signal_log_root == settings.lake_root == f"{tmp_path}/lake"
    assert settings.trading_dir == f"{tmp_path}/trading"


def test_a_remote_data_dir_puts_what_needs_a_disk_in_the_local_dir(tmp_path: Path) -> None:
    local = tmp_path / "local"
    settings = load_settings(environ={DATA_DIR_ENV: "s3://bucket/shriven", LOCAL_DIR_ENV: str(local)})
    assert settings.lake_is_remote
    assert settings.lake_root == "s3://bucket/shriven/lake"
    assert settings.signal_log_root == f"{local}/lake"  # fsync + flock: never on the object store
    for path in (settings.warehouse_path, settings.trading_dir, settings.state_dir):
        assert path.startswith(str(local))
    # without a local dir: ./data of the working directory
    default = load_settings(environ={DATA_DIR_ENV: "s3://bucket/shriven"})
    assert default.local_root == str(Path("data").resolve())


def test_local_dir_comes_from_the_file_and_the_env_wins(tmp_path: Path) -> None:
    path = _write(tmp_path, 'data_dir = "s3://b/p"\nlocal_dir = "/from/file"\n' + SYMBOL.format(symbol="AAA"))
    assert load_settings(environ={CONFIG_ENV: str(path)}).local_root == "/from/file"
    assert load_settings(environ={CONFIG_ENV: str(path), LOCAL_DIR_ENV: str(tmp_path)}).local_root == str(tmp_path)


def test_a_local_dir_must_be_local_and_a_remote_lake_needs_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="local_dir must be a local path"):
        load_settings(environ={DATA_DIR_ENV: "s3://b/p", LOCAL_DIR_ENV: "s3://b/q"})
    with pytest.raises(ValueError, match="set local_dir"):
        Settings(data_dir="s3://b/p")


def test_toml_file_via_config_env(tmp_path: Path) -> None:
    text = (
        textwrap.dedent(
            """
        [synthetic]
        seed = 7
        session_open = "08:00"
        session_close = "16:30"

        [aggregation]
        intervals = ["1m", "1h"]
        """
        )
        + SYMBOL.format(symbol="AAA")
        + SYMBOL.format(symbol="BBB")
    )
    path = _write(tmp_path, text)
    settings = load_settings(environ={CONFIG_ENV: str(path)})
    assert settings.universe == ("AAA", "BBB")
    assert settings.synthetic.seed == 7
    assert settings.synthetic.session_bounds_s() == (8 * 3600, 16 * 3600 + 30 * 60)
    assert settings.aggregation.intervals == ("1m", "1h")
    assert settings.symbol("BBB").tick_size == 0.01  # defaults fill what the file omits
    with pytest.raises(KeyError, match="ZZZ"):
        settings.symbol("ZZZ")


def test_explicit_path_wins_over_the_env(tmp_path: Path) -> None:
    a = _write(tmp_path, SYMBOL.format(symbol="AAA"), "a.toml")
    b = _write(tmp_path, SYMBOL.format(symbol="BBB"), "b.toml")
    assert load_settings(a, environ={CONFIG_ENV: str(b)}).universe == ("AAA",)


def test_local_shriven_toml_is_picked_up() -> None:
    Path("shriven.toml").write_text(SYMBOL.format(symbol="LOCAL"))
    assert load_settings(environ={}).universe == ("LOCAL",)


@pytest.mark.parametrize(
    "text",
    [
        "colour = 'blue'\n",
        "[synthetic]\nseeed = 1\n",
        SYMBOL.format(symbol="AAA") + "ticker = 'x'\n",
    ],
)
def test_unknown_fields_are_rejected_naming_the_file(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match="unknown field") as info:
        load_settings(environ={CONFIG_ENV: str(path)})
    assert str(path) in str(info.value)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        load_settings(environ={CONFIG_ENV: str(tmp_path / "nope.toml")})
    bad = _write(tmp_path, "this is = = not toml")
    with pytest.raises(ValueError, match="not valid TOML") as info:
        load_settings(environ={CONFIG_ENV: str(bad)})
    assert str(bad) in str(info.value)


@pytest.mark.parametrize(
    ("open_", "close", "match"),
    [
        ("20:00", "13:30", "must be after session_open"),
        ("13:30", "13:30", "must be after session_open"),
        ("25:00", "26:00", "is not HH:MM"),
        ("9am", "17:00", "is not HH:MM"),
    ],
)
def test_bad_session_hours_are_rejected(tmp_path: Path, open_: str, close: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SyntheticConfig(session_open=open_, session_close=close)
    path = _write(
        tmp_path,
        f'[synthetic]\nsession_open = "{open_}"\nsession_close = "{close}"\n'
        + SYMBOL.format(symbol="A"),
    )
    with pytest.raises(ValueError, match=f"invalid settings in {path}"):
        load_settings(environ={CONFIG_ENV: str(path)})


def test_session_may_close_at_midnight() -> None:
    assert SyntheticConfig(session_open="00:00", session_close="24:00").session_bounds_s() == (
        0,
        86_400,
    )


def test_duplicate_symbols_are_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, SYMBOL.format(symbol="AAA") + SYMBOL.format(symbol="AAA"))
    with pytest.raises(ValueError, match="duplicate symbols") as info:
        load_settings(environ={CONFIG_ENV: str(path)})
    assert str(path) in str(info.value)


def test_unknown_interval_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, '[aggregation]\nintervals = ["1m", "7m"]\n')
    with pytest.raises(ValueError, match=r"unknown bar intervals \['7m'\]") as info:
        load_settings(environ={CONFIG_ENV: str(path)})
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "0.0"),
        ("price", "-1.0"),
        ("volatility", "0"),
        ("daily_trades", "0"),
        ("tick_size", "-0.01"),
    ],
)
def test_non_positive_symbol_numbers_are_rejected(tmp_path: Path, field: str, value: str) -> None:
    lines = [
        ln for ln in SYMBOL.format(symbol="AAA").splitlines() if not ln.startswith(f"{field} =")
    ]
    path = _write(tmp_path, "\n".join([*lines, f"{field} = {value}", ""]))
    with pytest.raises(ValueError, match=field) as info:
        load_settings(environ={CONFIG_ENV: str(path)})
    assert str(path) in str(info.value)
