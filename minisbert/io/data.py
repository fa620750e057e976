"""Readers for the two sentence-similarity benchmarks SBERT reports on: STS Benchmark and SICK.

Both are plain tab-separated text files, read line by line into frozen dataclasses. Nothing is
bundled: the files live in a data folder that looks like::

    <data_dir>/stsbenchmark/sts-train.csv, sts-dev.csv, sts-test.csv
    <data_dir>/sick/SICK_train.txt, SICK_trial.txt, SICK_test_annotated.txt
    <data_dir>/snli/snli_1.0_train_first100k.jsonl, snli_1.0_test.jsonl

Where that folder is (``resolve_data_dir``), first match wins:

1. the ``data_dir`` argument, when the caller passes one;
2. ``$MINISBERT_DATA``, when set (then it is the only place looked at: a folder named on purpose is not
   silently bypassed);
3. ``../shared/data`` beside the source checkout (the repository root, not the current directory: the
   notebooks and the tests run from other folders), when it exists and holds the data set;
4. the per-user cache, ``minisbert_home()/data`` (``$MINISBERT_HOME/data``, else e.g.
   ``~/.cache/minisbert/data``), which ``python -m minisbert fetch stsb|sick|snli`` fills.

A data set found nowhere raises :class:`DataNotFoundError`, whose message names the fetch command.

STS Benchmark (Cer et al., "SemEval-2017 Task 1", 2017): ``genre filename year id score sentence1
sentence2`` (seven tab-separated fields; the readme forgets the id), and 503 lines carry extra
license fields after sentence2, so a line is split on tabs and only the first seven fields are used.
Sentences contain double quotes (``He said "no".``), so the files must never be read with a CSV
quoting dialect: a quote would swallow the tabs up to the next quote.

SICK (Marelli et al., "A SICK cure for the evaluation of compositional distributional semantic
models", LREC 2014): ``pair_ID sentence_A sentence_B relatedness_score entailment_judgment``. The
copies in the shared data folder have no header line; the original SemEval-2014 release starts each
file with one (``pair_ID<TAB>sentence_A<TAB>...``), so a first line that is exactly that header is
skipped and both kinds of file load.

Every row is checked; a malformed one raises :class:`DataError` naming the file, the 1-based line
number and what was wrong, rather than a bare ``ValueError`` from ``float()`` deep in a loop.
Sentences are kept verbatim (quotes, inner and trailing spaces included): the tokenizer cleans text,
the reader does not.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

from . import paths

PathLike = Union[str, "os.PathLike[str]"]

#: Environment variable naming the data folder when no ``data_dir`` argument is given.
DATA_ENV_VAR = "MINISBERT_DATA"

# Gold score ranges, inclusive. STS Benchmark: 0 = "on different topics" ... 5 = "completely
# equivalent" (the averaged crowd judgements of the SemEval STS tasks). SICK relatedness:
# 1 = "completely unrelated" ... 5 = "very related" (average of ten judgements).
STSB_SCORE_RANGE = (0.0, 5.0)
SICK_SCORE_RANGE = (1.0, 5.0)

#: SICK's entailment labels in alphabetical order, so ``SICK_LABELS.index(label)`` gives
#: CONTRADICTION = 0, ENTAILMENT = 1, NEUTRAL = 2: the same ids sentence-transformers' NLI
#: training script gives the SNLI/MultiNLI labels.
SICK_LABELS = ("CONTRADICTION", "ENTAILMENT", "NEUTRAL")

STSB_FILES = {"train": "sts-train.csv", "dev": "sts-dev.csv", "test": "sts-test.csv"}
SICK_FILES = {
    "train": "SICK_train.txt",
    "dev": "SICK_trial.txt",  # the official development split is called "trial"
    "trial": "SICK_trial.txt",
    "test": "SICK_test_annotated.txt",
}
_SICK_HEADER = ("pair_ID", "sentence_A", "sentence_B")  # first fields of the original release's header


class DataError(ValueError):
    """A row of a data file that cannot be read; the message names the file and the 1-based line."""


@dataclass(frozen=True)
class StsPair:
    """One STS Benchmark pair: two sentences and their gold similarity in [0, 5]."""

    sentence1: str
    sentence2: str
    score: float  # gold similarity, 0 (different topics) to 5 (equivalent)
    genre: str  # main-news, main-captions, main-forum(s)
    filename: str  # the SemEval source set: MSRpar, MSRvid, headlines, images, ...
    year: str  # e.g. "2012test", "2015" (not always a number, so kept as text)
    sid: str  # the pair's id within its source set, e.g. "0001" (leading zeros kept)


@dataclass(frozen=True)
class SickPair:
    """One SICK pair: a relatedness score in [1, 5] and an entailment label."""

    pair_id: int
    sentence_a: str
    sentence_b: str
    relatedness: float  # gold relatedness, 1 (unrelated) to 5 (very related)
    label: str  # one of SICK_LABELS


# ---------------------------------------------------------------------------------------------
# Finding the files


#: Data set folder -> the name ``python -m minisbert fetch NAME`` fetches it by (minisbert/io/fetch.py).
FETCH_NAMES = {"stsbenchmark": "stsb", "sick": "sick", "snli": "snli"}


class DataNotFoundError(FileNotFoundError):
    """A data set that is in none of the places looked at; the message says how to fetch it."""


def data_roots() -> list[tuple[Path, str]]:
    """The folders looked in when no ``data_dir`` is passed, in order, each with where it came from."""
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return [(Path(env).expanduser(), f"{DATA_ENV_VAR}={env!r}")]
    roots = []
    checkout = paths.source_checkout()
    if checkout is not None and (checkout.parent / "shared" / "data").is_dir():
        roots.append((checkout.parent / "shared" / "data", "../shared/data beside the checkout"))
    roots.append((paths.minisbert_home() / "data", "the user cache"))
    return roots


def fetch_destination() -> Path:
    """Where ``python -m minisbert fetch stsb|sick|snli`` unpacks: ``$MINISBERT_DATA`` when set (so the
    lookup finds it there), else the user cache; never the shared folder, which is read-only."""
    return data_roots()[-1][0]


def _fetch_hint(subdir: str | None) -> str:
    name = FETCH_NAMES.get(subdir or "", "stsb|sick|snli")
    return f"run `python -m minisbert fetch {name}` (it unpacks into {fetch_destination()})"


def resolve_data_dir(data_dir: PathLike | None = None, dataset: str | None = None) -> Path:
    """The data folder that holds ``dataset`` (a sub-folder name such as "sick"; ``None``: any data folder).

    ``data_dir`` if given (it must exist), else the first of ``data_roots()`` that holds the data set;
    see the module docstring for the order.
    """
    how = (
        f"pass data_dir=... or set the environment variable {DATA_ENV_VAR} to the folder that holds "
        "stsbenchmark/, sick/ and snli/"
    )
    if data_dir is not None:
        path = Path(data_dir).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"Data folder {str(path)!r} (from data_dir) does not exist: {how}.")
        return path
    roots = data_roots()
    for path, source in roots:
        if path.is_dir() and (dataset is None or (path / dataset).is_dir()):
            return path
    if len(roots) == 1:  # MINISBERT_DATA set
        path, source = roots[0]
        if not path.is_dir():
            raise DataNotFoundError(f"Data folder {str(path)!r} (from {source}) does not exist: {how}, "
                                    f"or {_fetch_hint(dataset)}.")
        return path  # the folder exists; the missing file is reported by the caller, with the fetch command
    where = ", ".join(f"{p} ({source})" for p, source in roots)
    what = f"the data set {dataset}/" if dataset else "no data folder"
    raise DataNotFoundError(f"No data found: looked for {what} in {where}. {_fetch_hint(dataset)}, or {how}.")


def _data_file(data_dir: PathLike | None, subdir: str, files: dict[str, str], split: str) -> Path:
    if split not in files:
        raise ValueError(f"Unknown split {split!r}; expected one of {', '.join(map(repr, files))}.")
    path = resolve_data_dir(data_dir, subdir) / subdir / files[split]
    if not path.is_file():
        raise DataNotFoundError(
            f"Data file {str(path)!r} is missing: the data folder should hold {subdir}/{files[split]} "
            f"(set data_dir=... or {DATA_ENV_VAR} to the right folder, or {_fetch_hint(subdir)})."
        )
    return path


# ---------------------------------------------------------------------------------------------
# Reading lines and fields


def _lines(path: Path):
    """Yield (1-based line number, text) for each line; bytes decoded one line at a time so that a
    decoding error can name its line. Trailing empty lines at the end of the file are ignored."""
    raw_lines = path.read_bytes().split(b"\n")
    while raw_lines and raw_lines[-1].strip(b"\r") == b"":
        raw_lines.pop()
    for number, raw in enumerate(raw_lines, start=1):
        if raw.endswith(b"\r"):  # tolerate Windows line ends
            raw = raw[:-1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(f"{path}, line {number}: not valid UTF-8 ({err.reason})") from None
        if number == 1:
            text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
        yield number, text


def _where(path: Path, number: int) -> str:
    return f"{path}, line {number}"


def _fields(path: Path, number: int, line: str, n: int, names: str) -> list[str]:
    fields = line.split("\t")
    if len(fields) < n:
        raise DataError(
            f"{_where(path, number)}: expected at least {n} tab-separated fields ({names}), "
            f"found {len(fields)}: {line[:80]!r}"
        )
    return fields[:n]


def _score(path: Path, number: int, text: str, bounds: tuple[float, float], what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{_where(path, number)}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{_where(path, number)}: {what} {text!r} is not a finite number")
    low, high = bounds
    if not low <= value <= high:
        raise DataError(f"{_where(path, number)}: {what} {value} is outside [{low:g}, {high:g}]")
    return value


def _sentence(path: Path, number: int, text: str, what: str) -> str:
    if not text.strip():
        raise DataError(f"{_where(path, number)}: {what} is empty")
    return text


# ---------------------------------------------------------------------------------------------
# The two readers


def load_stsb(split: str, data_dir: PathLike | None = None) -> list[StsPair]:
    """Read an STS Benchmark split ("train" 5,749, "dev" 1,500 or "test" 1,379 pairs)."""
    path = _data_file(data_dir, "stsbenchmark", STSB_FILES, split)
    rows = []
    for number, line in _lines(path):
        genre, filename, year, sid, score, s1, s2 = _fields(
            path, number, line, 7, "genre filename year id score sentence1 sentence2"
        )
        rows.append(
            StsPair(
                sentence1=_sentence(path, number, s1, "sentence1"),
                sentence2=_sentence(path, number, s2, "sentence2"),
                score=_score(path, number, score, STSB_SCORE_RANGE, "score"),
                genre=genre,
                filename=filename,
                year=year,
                sid=sid,
            )
        )
    return rows


def load_sick(split: str, data_dir: PathLike | None = None) -> list[SickPair]:
    """Read a SICK split ("train" 4,500, "dev" or "trial" 500, "test" 4,927 pairs)."""
    path = _data_file(data_dir, "sick", SICK_FILES, split)
    rows = []
    for number, line in _lines(path):
        if number == 1 and tuple(line.split("\t")[:3]) == _SICK_HEADER:
            continue  # the original SemEval-2014 files start with a header line
        pair_id, sa, sb, relatedness, label = _fields(
            path, number, line, 5, "pair_ID sentence_A sentence_B relatedness_score entailment_judgment"
        )
        try:
            pid = int(pair_id)
        except ValueError:
            raise DataError(f"{_where(path, number)}: pair_ID {pair_id!r} is not an integer") from None
        if label not in SICK_LABELS:
            raise DataError(
                f"{_where(path, number)}: unknown entailment label {label!r}; "
                f"expected one of {', '.join(SICK_LABELS)}"
            )
        rows.append(
            SickPair(
                pair_id=pid,
                sentence_a=_sentence(path, number, sa, "sentence_A"),
                sentence_b=_sentence(path, number, sb, "sentence_B"),
                relatedness=_score(path, number, relatedness, SICK_SCORE_RANGE, "relatedness score"),
                label=label,
            )
        )
    return rows


#: Dataset name -> reader, for callers that pick a benchmark by name (evaluate_split, the CLI).
LOADERS: dict[str, Callable[..., list]] = {"stsb": load_stsb, "sick": load_sick}


# ---------------------------------------------------------------------------------------------
# SNLI (Bowman et al., "A large annotated corpus for learning natural language inference", EMNLP 2015):
# one JSON object per line with ``sentence1`` (the premise, an image caption), ``sentence2`` (the
# hypothesis) and ``gold_label``. Pairs whose gold label is "-" (no majority among the annotators) are
# skipped, as SBERT and everyone else do.

#: SNLI's labels in the same order as SICK_LABELS (contradiction 0, entailment 1, neutral 2), the ids
#: sentence-transformers' NLI training script uses.
SNLI_LABELS = ("contradiction", "entailment", "neutral")
SNLI_FILES = {"train": "snli_1.0_train_first100k.jsonl", "test": "snli_1.0_test.jsonl"}


@dataclass(frozen=True)
class NliPair:
    """One SNLI pair: a premise, a hypothesis and the majority label."""

    premise: str
    hypothesis: str
    label: str  # one of SNLI_LABELS


def load_snli(split: str, data_dir: PathLike | None = None) -> list[NliPair]:
    """Read an SNLI split ("train": the first 100,000 lines, 99,890 labelled; "test": 9,824 labelled)."""
    import json

    path = _data_file(data_dir, "snli", SNLI_FILES, split)
    rows = []
    for number, line in _lines(path):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{_where(path, number)}: not a JSON object ({e.msg})") from None
        if not isinstance(record, dict) or not {"sentence1", "sentence2", "gold_label"} <= record.keys():
            raise DataError(f"{_where(path, number)}: needs the fields sentence1, sentence2 and gold_label")
        label = record["gold_label"]
        if label == "-":
            continue
        if label not in SNLI_LABELS:
            raise DataError(f"{_where(path, number)}: unknown gold_label {label!r}; expected one of "
                            f"{', '.join(SNLI_LABELS)} or '-'")
        rows.append(NliPair(_sentence(path, number, record["sentence1"], "sentence1"),
                            _sentence(path, number, record["sentence2"], "sentence2"), label))
    return rows


LOADERS["snli"] = load_snli


# ---------------------------------------------------------------------------------------------
# A file of sentences, one a line


def read_sentences(path: PathLike) -> list[str]:
    """The sentences of a UTF-8 text file, one a line; blank lines skipped, each sentence kept verbatim.

    For training on one's own sentences (SimCSE needs nothing else). A file that is missing, not UTF-8
    or holds no sentence raises :class:`DataError` (``FileNotFoundError`` for a missing one) naming it.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a file (expected a text file with one sentence a line)")
    sentences = [text for _, text in _lines(path) if text.strip()]
    if not sentences:
        raise DataError(f"{path}: holds no sentence (expected a text file with one sentence a line)")
    return sentences
