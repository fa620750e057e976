"""STS Benchmark and SICK readers, checked against the raw files read independently here."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import pytest

from minisbert.io.data import (
    DATA_ENV_VAR,
    SICK_LABELS,
    SICK_SCORE_RANGE,
    STSB_SCORE_RANGE,
    DataError,
    SickPair,
    StsPair,
    load_sick,
    load_stsb,
    resolve_data_dir,
)

STSB_COUNTS = {"train": 5749, "dev": 1500, "test": 1379}  # the STS Benchmark readme's table
SICK_COUNTS = {"train": 4500, "dev": 500, "test": 4927}  # SemEval-2014 Task 1 splits
STSB_FILE = {"train": "sts-train.csv", "dev": "sts-dev.csv", "test": "sts-test.csv"}
SICK_FILE = {"train": "SICK_train.txt", "dev": "SICK_trial.txt", "test": "SICK_test_annotated.txt"}


def raw_fields(path: Path) -> list[list[str]]:
    """The file's lines split on tabs, written independently of the library."""
    with open(path, encoding="utf-8", newline="") as f:
        return [line.rstrip("\n").split("\t") for line in f]


@pytest.fixture(scope="module")
def stsb(data_dir):
    return {split: load_stsb(split, data_dir) for split in STSB_COUNTS}


@pytest.fixture(scope="module")
def sick(data_dir):
    return {split: load_sick(split, data_dir) for split in SICK_COUNTS}


# ---------------------------------------------------------------------------------------------
# The real files


@pytest.mark.parametrize("split", list(STSB_COUNTS))
def test_stsb_counts_and_every_row_matches_the_raw_file(stsb, data_dir, split):
    rows, raw = stsb[split], raw_fields(data_dir / "stsbenchmark" / STSB_FILE[split])
    assert len(rows) == STSB_COUNTS[split] == len(raw)
    for row, fields in zip(rows, raw):
        assert isinstance(row, StsPair)
        assert (row.genre, row.filename, row.year, row.sid) == tuple(fields[:4])
        assert row.score == float(fields[4])
        assert (row.sentence1, row.sentence2) == (fields[5], fields[6])
        assert STSB_SCORE_RANGE[0] <= row.score <= STSB_SCORE_RANGE[1]


def test_stsb_first_and_last_rows(stsb):
    # Read off the files by eye (head -1 / tail -1).
    first = stsb["train"][0]
    assert first == StsPair(
        sentence1="A plane is taking off.",
        sentence2="An air plane is taking off.",
        score=5.0,
        genre="main-captions",
        filename="MSRvid",
        year="2012test",
        sid="0001",
    )
    last = stsb["dev"][-1]
    assert last.sentence1 == "New video shows US police officers beating mentally-ill man"
    assert last.sentence2 == "New York police officer critically wounded in hatchet attack"
    assert (last.score, last.genre, last.filename, last.year, last.sid) == (0.0, "main-news", "headlines", "2016", "1495")
    assert stsb["test"][0].sentence2 == "A girl is brushing her hair." and stsb["test"][0].score == 2.5


def test_stsb_extra_license_fields_are_dropped(stsb, data_dir):
    extra = 0
    for split in STSB_COUNTS:
        raw = raw_fields(data_dir / "stsbenchmark" / STSB_FILE[split])
        for row, fields in zip(stsb[split], raw):
            if len(fields) > 7:
                extra += 1
                assert row.sentence2 == fields[6]
                assert "Europe Media Monitor" not in row.sentence2 and "StackExchange" not in row.sentence2
    assert extra == 503  # the data README's count


def test_stsb_quotes_are_kept_and_a_csv_dialect_would_break(stsb, data_dir):
    # A sentence that contains double quotes, read off sts-dev.csv line 268.
    row = stsb["dev"][267]
    assert row.sentence2 == 'a woman is standing by a pillar where "u2" is written.'
    quoted = [r for r in stsb["train"] if '"' in r.sentence1 + r.sentence2]
    assert len(quoted) > 100
    # Why the reader splits on tabs by hand: csv's default quoting merges lines after a quote.
    with open(data_dir / "stsbenchmark" / "sts-train.csv", newline="") as f:
        assert sum(1 for _ in csv.reader(f, delimiter="\t")) != STSB_COUNTS["train"]


@pytest.mark.parametrize("split", list(SICK_COUNTS))
def test_sick_counts_and_every_row_matches_the_raw_file(sick, data_dir, split):
    rows, raw = sick[split], raw_fields(data_dir / "sick" / SICK_FILE[split])
    # The shared copies have no header line: the very first line is already a pair.
    assert raw[0][0].isdigit()
    assert len(rows) == SICK_COUNTS[split] == len(raw)
    for row, fields in zip(rows, raw):
        assert isinstance(row, SickPair)
        assert row == SickPair(int(fields[0]), fields[1], fields[2], float(fields[3]), fields[4])
        assert SICK_SCORE_RANGE[0] <= row.relatedness <= SICK_SCORE_RANGE[1]


def test_sick_first_last_rows_labels_and_ids(sick):
    assert sick["train"][0] == SickPair(
        1,
        "A group of kids is playing in a yard and an old man is standing in the background",
        "A group of boys in a yard is playing and a man is standing in the background",
        4.5,
        "NEUTRAL",
    )
    assert sick["dev"][0].label == "CONTRADICTION" and sick["dev"][0].pair_id == 4
    last = sick["test"][-1]
    assert (last.pair_id, last.relatedness, last.label) == (9996, 1.0, "NEUTRAL")
    assert last.sentence_b == "The snowboarder is leaping fearlessly over white snow"
    all_rows = [r for split in sick.values() for r in split]
    assert {r.label for r in all_rows} == set(SICK_LABELS)
    assert len({r.pair_id for r in all_rows}) == 9927  # ids are unique across the splits


def test_sick_trial_is_dev_and_labels_order(data_dir, sick):
    assert load_sick("trial", data_dir) == sick["dev"]
    assert SICK_LABELS == ("CONTRADICTION", "ENTAILMENT", "NEUTRAL")
    assert STSB_SCORE_RANGE == (0.0, 5.0) and SICK_SCORE_RANGE == (1.0, 5.0)


def test_rows_are_frozen(stsb, sick):
    with pytest.raises(dataclasses.FrozenInstanceError):
        stsb["dev"][0].score = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        sick["dev"][0].label = "NEUTRAL"


def test_unknown_split(data_dir):
    with pytest.raises(ValueError, match="'train', 'dev', 'test'"):
        load_stsb("validation", data_dir)
    with pytest.raises(ValueError, match="'trial'"):
        load_sick("valid", data_dir)


# ---------------------------------------------------------------------------------------------
# Finding the folder


def test_environment_variable_is_honoured(monkeypatch, tmp_path, data_dir):
    monkeypatch.setenv(DATA_ENV_VAR, str(data_dir))
    assert len(load_stsb("dev")) == 1500
    # A different folder named by the variable is the one read ...
    (tmp_path / "stsbenchmark").mkdir()
    (tmp_path / "stsbenchmark" / "sts-dev.csv").write_text("g\tf\t2020\t0001\t1.5\tA b.\tC d.\n")
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    assert load_stsb("dev") == [StsPair("A b.", "C d.", 1.5, "g", "f", "2020", "0001")]
    # ... and an explicit argument wins over it.
    assert len(load_stsb("dev", data_dir)) == 1500
    assert resolve_data_dir() == tmp_path


def test_no_folder_given(monkeypatch, tmp_path):
    from minisbert.io import paths

    # no MINISBERT_DATA, no ../shared/data beside a checkout, an empty user cache (tests/test_fetch_data.py
    # checks the whole lookup order)
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    monkeypatch.setenv("MINISBERT_HOME", str(tmp_path))
    monkeypatch.setattr(paths, "source_checkout", lambda: None)
    with pytest.raises(FileNotFoundError, match="fetch stsb") as err:
        load_stsb("train")
    assert DATA_ENV_VAR in str(err.value) and "python -m minisbert fetch stsb" in str(err.value)


def test_missing_folder_and_missing_file(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere") as err:
        load_sick("train", missing)
    assert DATA_ENV_VAR in str(err.value)
    monkeypatch.setenv(DATA_ENV_VAR, str(missing))
    with pytest.raises(FileNotFoundError, match=f"{DATA_ENV_VAR}=.*nowhere"):
        load_stsb("test")
    with pytest.raises(FileNotFoundError, match="SICK_test_annotated.txt"):
        load_sick("test", tmp_path)  # the folder exists, the file does not


# ---------------------------------------------------------------------------------------------
# Malformed rows: small files in a temporary data folder

GOOD_STS = "main-news\theadlines\t2013\t0001\t3.2\tOne sentence.\tAnother sentence.\n"
GOOD_SICK = "7\tA man plays\tA person plays\t4.1\tENTAILMENT\n"


def write(tmp_path: Path, sub: str, name: str, text: str) -> Path:
    (tmp_path / sub).mkdir(exist_ok=True)
    path = tmp_path / sub / name
    path.write_bytes(text.encode("utf-8"))
    return tmp_path


@pytest.mark.parametrize(
    "bad, what",
    [
        ("main-news\theadlines\t2013\t0002\t3.2\tOnly one sentence.\n", "found 6"),
        ("main-news\theadlines\t2013\t0002\tabc\tA.\tB.\n", "'abc' is not a number"),
        ("main-news\theadlines\t2013\t0002\tnan\tA.\tB.\n", "not a finite number"),
        ("main-news\theadlines\t2013\t0002\t5.5\tA.\tB.\n", r"outside \[0, 5\]"),
        ("main-news\theadlines\t2013\t0002\t-0.1\tA.\tB.\n", r"outside \[0, 5\]"),
        ("main-news\theadlines\t2013\t0002\t1.0\t  \tB.\n", "sentence1 is empty"),
        ("\n", "found 1"),  # a blank line in the middle of the file
    ],
)
def test_stsb_malformed_row(tmp_path, bad, what):
    folder = write(tmp_path, "stsbenchmark", "sts-train.csv", GOOD_STS + GOOD_STS + bad + GOOD_STS)
    with pytest.raises(DataError, match=what) as err:
        load_stsb("train", folder)
    assert "sts-train.csv, line 3" in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    "bad, what",
    [
        ("8\tA man plays\tA person plays\t4.1\n", "found 4"),
        ("8\tA man plays\tA person plays\tfour\tNEUTRAL\n", "'four' is not a number"),
        ("8\tA man plays\tA person plays\tNaN\tNEUTRAL\n", "not a finite number"),
        ("8\tA man plays\tA person plays\t0.5\tNEUTRAL\n", r"outside \[1, 5\]"),
        ("8\tA man plays\tA person plays\t3\tENTAILS\n", "unknown entailment label 'ENTAILS'"),
        ("8\tA man plays\tA person plays\t3\tneutral\n", "unknown entailment label 'neutral'"),
        ("x8\tA man plays\tA person plays\t3\tNEUTRAL\n", "pair_ID 'x8' is not an integer"),
        ("8\tA man plays\t\t3\tNEUTRAL\n", "sentence_B is empty"),
    ],
)
def test_sick_malformed_row(tmp_path, bad, what):
    folder = write(tmp_path, "sick", "SICK_trial.txt", GOOD_SICK + bad)
    with pytest.raises(DataError, match=what) as err:
        load_sick("dev", folder)
    assert "SICK_trial.txt, line 2" in str(err.value)


def test_invalid_utf8_names_the_line(tmp_path):
    folder = write(tmp_path, "sick", "SICK_train.txt", GOOD_SICK)
    with open(tmp_path / "sick" / "SICK_train.txt", "ab") as f:
        f.write(b"9\tA caf\xe9\tB\t2\tNEUTRAL\n")  # latin-1, not UTF-8
    with pytest.raises(DataError, match="SICK_train.txt, line 2: not valid UTF-8"):
        load_sick("train", folder)


def test_original_sick_header_crlf_and_trailing_blank_lines(tmp_path):
    # The SemEval-2014 release starts with a header line; Windows copies end lines with \r\n.
    header = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\r\n"
    folder = write(tmp_path, "sick", "SICK_train.txt", header + GOOD_SICK.replace("\n", "\r\n") + "\n\n")
    assert load_sick("train", folder) == [SickPair(7, "A man plays", "A person plays", 4.1, "ENTAILMENT")]
    # A header anywhere else is an error, not skipped.
    folder = write(tmp_path, "sick", "SICK_test_annotated.txt", GOOD_SICK + header)
    with pytest.raises(DataError, match="line 2: pair_ID 'pair_ID'"):
        load_sick("test", folder)


def test_sentences_are_kept_verbatim(tmp_path):
    text = 'g\tf\t2016\t0008\t3\t He said "hi" . \t\'quoted\' \n'
    folder = write(tmp_path, "stsbenchmark", "sts-test.csv", text)
    (row,) = load_stsb("test", folder)
    assert (row.sentence1, row.sentence2) == (' He said "hi" . ', "'quoted' ")
    assert math.isclose(row.score, 3.0)
