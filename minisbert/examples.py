"""Training examples for the SBERT objectives, built from the STS Benchmark and SICK.

Reimers & Gurevych 2019 (SBERT, section 3 and 4) train on pairs with a label (NLI: entailment,
contradiction, neutral), pairs with a similarity score (STSb) and triplets (anchor, positive,
negative). Here an example is a small frozen dataclass:

    PairExample(a, b, label)        label: a label name (classification) or a score in [0, 1] (regression)
    TripletExample(anchor, positive, negative)

The scaling of the gold scores to [0, 1] happens here, where the data is read, and nowhere else:

    STSb     0 (different topics) ... 5 (equivalent)     →  score / 5
    SICK-R   1 (unrelated)        ... 5 (very related)   →  (score − 1) / 4

so that 0 always means "unrelated" and 1 "the same meaning", the range a cosine similarity of two
sentence vectors is trained to reach (``RegressionObjective``).

After the paper, in-batch negatives (``MultipleNegativesRankingObjective``) train on SNLI as
(premise, entailment, contradiction) triplets (``nli_triplets``) and, as SimCSE, on (s, s) pairs made
from any list of sentences (``simcse_pairs``; ``corpus_sentences`` and ``snli_sentences`` give two).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from .io.corpus import CorpusError, read_documents
from .io.data import load_sick, load_snli, load_stsb, resolve_data_dir


@dataclass(frozen=True)
class PairExample:
    a: str
    b: str
    label: str | float  # a label name (classification) or a gold score in [0, 1] (regression)


@dataclass(frozen=True)
class TripletExample:
    anchor: str
    positive: str  # should end up closer to the anchor ...
    negative: str  # ... than this one, by the margin


# ----------------------------------------------------------------------------------------------------
# From plain lists


def make_pairs(sentences_a: Sequence[str], sentences_b: Sequence[str], labels: Sequence) -> list[PairExample]:
    """Zip three equally long lists into PairExamples; a length mismatch names the argument."""
    n = len(sentences_a)
    for name, values in (("sentences_b", sentences_b), ("labels", labels)):
        if len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries but sentences_a has {n}: the lists must be "
                             f"equally long (one entry per pair)")
    return [PairExample(a, b, y) for a, b, y in zip(sentences_a, sentences_b, labels)]


def make_triplets(anchors: Sequence[str], positives: Sequence[str], negatives: Sequence[str]) -> list[TripletExample]:
    """Zip three equally long lists into TripletExamples; a length mismatch names the argument."""
    n = len(anchors)
    for name, values in (("positives", positives), ("negatives", negatives)):
        if len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries but anchors has {n}: the lists must be equally long")
    return [TripletExample(a, p, q) for a, p, q in zip(anchors, positives, negatives)]


def check_examples_list(examples, kind: type, name: str = "examples") -> None:
    """A non-empty list of ``kind`` whose texts are all strings; else a ValueError/TypeError naming it."""
    if not isinstance(examples, (list, tuple)):
        raise TypeError(f"{name} must be a list of {kind.__name__}, got {type(examples).__name__}")
    if len(examples) == 0:
        raise ValueError(f"{name} is empty: there is nothing to train on")
    fields = ("a", "b") if kind is PairExample else ("anchor", "positive", "negative")
    for i, ex in enumerate(examples):
        if not isinstance(ex, kind):
            raise TypeError(f"{name}[{i}] must be a {kind.__name__}, got {type(ex).__name__}")
        for field in fields:
            if not isinstance(getattr(ex, field), str):
                raise TypeError(f"{name}[{i}].{field} must be a str, got {type(getattr(ex, field)).__name__}")


# ----------------------------------------------------------------------------------------------------
# From the benchmarks


def stsb_regression(split: str, data_dir=None) -> list[PairExample]:
    """STS Benchmark pairs with the gold similarity scaled from [0, 5] to [0, 1] (score / 5)."""
    return [PairExample(p.sentence1, p.sentence2, p.score / 5.0) for p in load_stsb(split, data_dir)]


def sick_regression(split: str, data_dir=None) -> list[PairExample]:
    """SICK pairs with the relatedness scaled from [1, 5] to [0, 1] ((score − 1) / 4)."""
    return [PairExample(p.sentence_a, p.sentence_b, (p.relatedness - 1.0) / 4.0) for p in load_sick(split, data_dir)]


def sick_classification(split: str, data_dir=None) -> list[PairExample]:
    """SICK pairs with their entailment label (CONTRADICTION, ENTAILMENT or NEUTRAL)."""
    return [PairExample(p.sentence_a, p.sentence_b, p.label) for p in load_sick(split, data_dir)]


def sick_triplets(split: str, data_dir=None) -> list[TripletExample]:
    """(anchor, a sentence the anchor entails, a sentence that contradicts the anchor) from SICK.

    SICK was built by taking a sentence and rewriting it (meaning-preserving, negated, ...), so one
    sentence A appears in several pairs. The labels say how B relates to A:

    * ENTAILMENT (A → B) is directional, so the positive is B of a pair (anchor = A, B, ENTAILMENT);
    * CONTRADICTION is symmetric (if A contradicts B, B contradicts A), so the negative may come from
      either side of a CONTRADICTION pair that contains the anchor;
    * NEUTRAL pairs are not used: "unrelated in truth" says nothing about which vector should be closer.

    Every anchor that has at least one entailed and one contradicting sentence gives every
    (positive, negative) combination of them, in file order. SICK train gives 356 triplets from 200
    anchors (most sentences are in only one or two pairs).
    """
    pairs = load_sick(split, data_dir)
    entailed: dict[str, list[str]] = defaultdict(list)
    contradicting: dict[str, list[str]] = defaultdict(list)
    for p in pairs:
        if p.label == "ENTAILMENT":
            entailed[p.sentence_a].append(p.sentence_b)
        elif p.label == "CONTRADICTION":
            contradicting[p.sentence_a].append(p.sentence_b)
            contradicting[p.sentence_b].append(p.sentence_a)
    triplets = []
    for anchor, positives in entailed.items():  # dicts keep insertion (file) order
        for positive in positives:
            for negative in contradicting.get(anchor, []):
                triplets.append(TripletExample(anchor, positive, negative))
    return triplets



# ----------------------------------------------------------------------------------------------------
# For in-batch negatives (after the paper)


def nli_triplets(split: str = "train", data_dir=None, both_directions: bool = False) -> list[TripletExample]:
    """SNLI as (premise, a hypothesis it entails, a hypothesis that contradicts it) triplets.

    The pairs are grouped by premise, as sentence-transformers builds its AllNLI triplets: each premise
    that has at least one entailed and one contradicting hypothesis gives one triplet, with the first of
    each in file order (a few premises have five of each). The entailment is the positive, the
    contradiction the hard negative; neutral hypotheses are not used. SNLI's first 100,000 train lines
    give 27,195 triplets (27,436 premises; the others lack an entailment or a contradiction).

    ``both_directions``: after each triplet also (entailment, premise, contradiction), the entailment as
    the anchor and the premise as its positive, as sentence-transformers' ``training_nli_v2.py`` adds it
    (twice the triplets, each text seen in both roles).
    """
    if not isinstance(both_directions, bool):
        raise TypeError(f"both_directions must be True or False, got {both_directions!r}")
    groups: dict[str, dict[str, list[str]]] = {}
    for pair in load_snli(split, data_dir):
        groups.setdefault(pair.premise, {"entailment": [], "contradiction": [], "neutral": []})
        groups[pair.premise][pair.label].append(pair.hypothesis)
    triplets = []
    for premise, hypotheses in groups.items():  # dicts keep insertion (file) order
        if hypotheses["entailment"] and hypotheses["contradiction"]:
            entailed, contradicting = hypotheses["entailment"][0], hypotheses["contradiction"][0]
            triplets.append(TripletExample(premise, entailed, contradicting))
            if both_directions:
                triplets.append(TripletExample(entailed, premise, contradicting))
    return triplets


def simcse_pairs(sentences: Sequence[str], name: str = "sentences") -> list[PairExample]:
    """SimCSE's training data: (s, s) for each distinct sentence s, label 1.0 ("the same meaning").

    Gao, Yao & Chen 2021 (unsupervised SimCSE): the two copies go through BERT with dropout on, so their
    vectors differ only by the dropout noise; the other sentences of the batch are the negatives. A
    sentence listed twice would meet itself as a negative, so each is kept once (first occurrence);
    blank ones are dropped. Fewer than two distinct sentences is a ValueError naming ``name``.
    """
    if isinstance(sentences, str) or not isinstance(sentences, (list, tuple)):
        raise TypeError(f"{name} must be a list of str, got {type(sentences).__name__}")
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(s).__name__}")
    distinct = list(dict.fromkeys(s for s in sentences if s.strip()))
    if len(distinct) < 2:
        raise ValueError(f"{name} holds {len(distinct)} distinct sentence(s): SimCSE needs at least two, "
                         f"since each sentence's negatives are the other sentences of its batch")
    return [PairExample(s, s, 1.0) for s in distinct]


def snli_sentences(split: str = "train", data_dir=None) -> list[str]:
    """Every distinct premise and hypothesis of an SNLI split, in file order (labels not used)."""
    return list(dict.fromkeys(s for pair in load_snli(split, data_dir) for s in (pair.premise, pair.hypothesis)))


def corpus_sentences(data_dir=None, min_words: int = 3) -> list[str]:
    """The distinct sentences of the pre-training corpus (``<data_dir>/corpus/*.txt``), in file order.

    Split into sentences as pre-training splits them (``minisbert/io/corpus.py``); sentences of fewer
    than ``min_words`` words (headings such as "CHAPTER I.") are left out.
    """
    folder = resolve_data_dir(data_dir, "corpus") / "corpus"
    paths = sorted(folder.glob("*.txt"))
    if not paths:
        raise CorpusError(f"corpus: no .txt file in {folder}")
    sentences = (s for document in read_documents(paths) for s in document)
    return list(dict.fromkeys(s for s in sentences if len(s.split()) >= min_words))
