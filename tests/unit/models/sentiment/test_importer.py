"""News import: CSV and JSONL into NEWS rows; every bad record quarantined with its reason, none lost."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from models.sentiment.importer import ImportReason, import_news, parse_time, text_id
from shriven.schemas import NEWS, QUARANTINE

INGESTED = 1_800_000_000 * 1_000_000_000
T = "2024-03-01T14:30:00Z"
T_NS = 1_709_303_400 * 1_000_000_000


def _jsonl(tmp_path: Path, lines: list[object]) -> Path:
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def _reasons(result) -> list[str]:
    return result.quarantine.column("reason").to_pylist()


#: (record, the reason it is quarantined for)
BAD_RECORDS = [
    ({"source": "wire", "text": "ACME up"}, ImportReason.MISSING_TIME),
    ({"time": "", "source": "wire", "text": "ACME up"}, ImportReason.MISSING_TIME),
    ({"time": "yesterday", "source": "wire", "text": "ACME up"}, ImportReason.INVALID_TIME),
    (
        {"time": "2024-02-30T10:00:00Z", "source": "wire", "text": "ACME up"},
        ImportReason.INVALID_TIME,
    ),
    ({"time": True, "source": "wire", "text": "ACME up"}, ImportReason.INVALID_TIME),
    ({"time": 1e30, "source": "wire", "text": "ACME up"}, ImportReason.INVALID_TIME),
    ({"time": T, "source": "wire"}, ImportReason.MISSING_TEXT),
    ({"time": T, "source": "wire", "text": None}, ImportReason.MISSING_TEXT),
    ({"time": T, "source": "wire", "text": ""}, ImportReason.MISSING_TEXT),
    ({"time": T, "source": "wire", "text": 42}, ImportReason.NON_STRING_TEXT),
    ({"time": T, "source": "wire", "text": ["ACME", "up"]}, ImportReason.NON_STRING_TEXT),
    ({"time": T, "source": "wire", "text": {"title": "ACME up"}}, ImportReason.NON_STRING_TEXT),
    ({"time": T, "source": 7, "text": "ACME up"}, ImportReason.INVALID_SOURCE),
    (
        {"time": T, "source": "wire", "text": "ACME up", "symbols": {"a": 1}},
        ImportReason.INVALID_SYMBOLS,
    ),
    (
        {"time": T, "source": "wire", "text": "ACME up", "symbols": ["ACME", 3]},
        ImportReason.INVALID_SYMBOLS,
    ),
    (
        {"time": T, "source": "wire", "text": "ACME up", "symbols": ["NOPE"]},
        ImportReason.UNKNOWN_SYMBOL,
    ),
    ("{not json", ImportReason.INVALID_JSON),
    ("[1, 2, 3]", ImportReason.MALFORMED_RECORD),
    ('"just a string"', ImportReason.MALFORMED_RECORD),
]


@pytest.mark.parametrize(
    ("record", "reason"),
    BAD_RECORDS,
    ids=[f"{r.value}-{i}" for i, (_, r) in enumerate(BAD_RECORDS)],
)
def test_each_bad_jsonl_record_is_quarantined_with_its_reason(
    tmp_path: Path, record: object, reason: ImportReason
) -> None:
    good = {"time": T, "source": "wire", "text": "BOLT slides"}
    result = import_news(
        _jsonl(tmp_path, [good, record]), ingested_at_ns=INGESTED, universe={"ACME", "BOLT"}
    )
    assert result.input_records == 2
    assert result.valid_records == 1
    assert _reasons(result) == [reason.value]
    assert result.quarantine.column("row_number").to_pylist() == [2]
    assert result.reasons == {reason.value: 1}


def test_a_record_failing_several_checks_lists_every_reason(tmp_path: Path) -> None:
    result = import_news(
        _jsonl(tmp_path, [{"time": "soon", "text": 3, "source": "wire"}]), ingested_at_ns=INGESTED
    )
    assert _reasons(result) == ["invalid_time;non_string_text"]


def test_jsonl_rows_are_conserved_and_valid_rows_follow_the_news_schema(tmp_path: Path) -> None:
    lines = [
        {"time": T, "source": "wire", "text": "ACME jumps", "symbols": ["ACME", "BOLT"]},
        {"time": 1_709_303_460, "source": "social", "text": "$BOLT slides"},
        {
            "time": T,
            "source": "wire",
            "text": "ACME jumps",
            "symbols": ["ACME", "BOLT"],
        },  # duplicate
        "",  # blank lines are not records
        *[record for record, _ in BAD_RECORDS],
        {"time": "2024-03-01 14:31:00.5", "text": "no source given", "symbols": "ACME; BOLT"},
    ]
    result = import_news(
        _jsonl(tmp_path, lines), ingested_at_ns=INGESTED, universe={"ACME", "BOLT"}
    )
    n_records = len(lines) - 1
    assert result.input_records == n_records
    assert result.valid_records + result.quarantined_records == n_records
    assert result.valid_records == 3
    assert result.reasons[ImportReason.DUPLICATE_TEXT] == 1
    assert result.news.schema.equals(NEWS, check_metadata=True)
    assert result.quarantine.schema.equals(QUARANTINE, check_metadata=True)
    news = result.frame()
    first = news.filter(pl.col("text") == "ACME jumps")
    assert first.get_column("symbol").to_list() == ["ACME", "BOLT"]
    assert first.get_column("text_id").n_unique() == 1
    assert first.get_column("text_id")[0] == text_id("wire", T_NS, "ACME jumps")
    untagged = news.filter(pl.col("text") == "$BOLT slides")
    assert untagged.get_column("symbol").to_list() == [""]
    assert untagged.get_column("ts").dt.epoch("ns").to_list() == [T_NS + 60 * 1_000_000_000]
    defaulted = news.filter(pl.col("text") == "no source given")
    assert set(defaulted.get_column("source")) == {"feed.jsonl"}
    assert defaulted.get_column("ts").dt.epoch("ns")[0] == T_NS + 60_500_000_000
    q = result.quarantine
    assert set(q.column("dataset").to_pylist()) == {"news"}
    assert q.column("ingested_at").cast("int64").to_pylist() == [INGESTED] * q.num_rows
    assert json.loads(q.column("raw")[0].as_py()) == lines[2]


def test_csv_import_conserves_rows_and_quarantines_bad_ones(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text(
        "time,source,text,symbols\n"
        f"{T},wire,ACME beats estimates,ACME\n"
        f"{T},wire,,ACME\n"  # missing text
        "not a time,wire,BOLT slides,\n"
        f'{T},wire,"Comma, quoted",\n'
        f"{T},wire,too,many,fields\n"
        "\n"  # blank line: not a record
        f'1709303400000,social,ms epoch works,"ACME,BOLT"\n'
        f"{T},wire,short row\n"  # no symbols column value: untagged
    )
    result = import_news(path, ingested_at_ns=INGESTED)
    assert result.input_records == 7
    assert result.valid_records + result.quarantined_records == 7
    assert _reasons(result) == ["missing_text", "invalid_time", "malformed_record"]
    assert result.quarantine.column("row_number").to_pylist() == [3, 4, 6]
    news = result.frame()
    assert news.filter(pl.col("text") == "Comma, quoted").height == 1
    assert news.filter(pl.col("text") == "ms epoch works").get_column("symbol").to_list() == [
        "ACME",
        "BOLT",
    ]
    assert set(news.get_column("ts").dt.epoch("ns")) == {T_NS}


def test_csv_without_a_text_column_quarantines_every_row_instead_of_raising(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("when,who,body\n2024-01-01,me,hello\n2024-01-02,you,there\n")
    result = import_news(path, ingested_at_ns=INGESTED)
    assert result.valid_records == 0
    assert _reasons(result) == ["missing_time;missing_text"] * 2


def test_unsupported_suffix_is_a_caller_error(tmp_path: Path) -> None:
    path = tmp_path / "news.xml"
    path.write_text("<news/>")
    with pytest.raises(ValueError, match="csv"):
        import_news(path, ingested_at_ns=INGESTED)


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        ("2024-03-01T14:30:00Z", T_NS),
        ("2024-03-01T15:30:00+01:00", T_NS),
        ("2024-03-01 14:30:00.000000001", T_NS + 1),
        ("2024-03-01T14:30", T_NS),
        (1_709_303_400, T_NS),
        (1_709_303_400_000, T_NS),
        (1_709_303_400_000_000, T_NS),
        (T_NS, T_NS),
        ("1709303400.25", T_NS + 250_000_000),
    ],
)
def test_time_formats(value: object, ns: int) -> None:
    assert parse_time(value) == (ns, None)
