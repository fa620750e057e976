"""From raw text to pre-training examples, as BERT's ``create_pretraining_data.py`` does.

    text files ──read──▶ documents of paragraphs ──split──▶ sentences ──tokenize (once, cached)──▶ ids
               ──pack──▶ examples: [CLS] A [SEP] B [SEP] up to max_len tokens, with an IsNext label

The corpus format is BERT's: UTF-8 text, one paragraph per line, a blank line between documents.

Packing (Devlin et al. 2019, appendix A.2; ``create_instances_from_document`` in google-research/bert):
sentences of one document are gathered until they fill ``max_len - 3`` tokens (room for [CLS] and two
[SEP]). 10% of the time a shorter target length is drawn, so the model also meets short inputs. The
gathered chunk is cut at a random sentence boundary into segment A and segment B. For next-sentence
prediction, half of the time B is replaced by text from a random other document (label 1, NotNext) and
the sentences B would have used go back to be packed again; otherwise B is the true continuation
(label 0, IsNext). Without NSP (RoBERTa's choice) the whole chunk is one segment.

Tokenizing 5 million words takes a while in pure Python, so the ids are cached as ``.npy`` arrays
(never pickle) beside a ``manifest.json`` that records the sha256 of every text file and of the
vocabulary: the cache is rebuilt when either changes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checks import check_int_range, check_positive_int, check_probability
from .data import load_sick, load_snli, load_stsb
from .files import atomic_write, write_json, write_text

CACHE_FORMAT = 3  # bump when the cached arrays' meaning changes

# A sentence ends at . ! or ? and any closing quotes or brackets after it, when white space and then something
# that can start a sentence (a capital, a digit, an opening quote) follow. Titles such as "Mr." do not end one.
_SENTENCE_END = re.compile(r"""[.!?]["'’”)\]]*(?=\s+["'‘“(\[]*[A-Z0-9])""")
_ABBREVIATIONS = ("Mr.", "Mrs.", "Ms.", "Dr.", "St.", "Sr.", "Jr.", "Col.", "Gen.", "Capt.", "Lt.", "Gov.",
                  "Rev.", "Hon.", "No.", "vs.", "etc.", "i.e.", "e.g.", "U.S.", "Co.")


class CorpusError(ValueError):
    """A corpus that cannot be used: missing, empty, or not UTF-8 text; the message names the file."""


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences at ``. ! ?`` followed by a capital or a digit (not after "Mr.")."""
    cuts = [0] + [end.end() for end in _SENTENCE_END.finditer(paragraph)] + [len(paragraph)]
    sentences: list[str] = []
    for start, stop in zip(cuts[:-1], cuts[1:]):
        piece = paragraph[start:stop].strip()
        if sentences and sentences[-1].endswith(_ABBREVIATIONS):
            sentences[-1] += " " + piece
        elif piece:
            sentences.append(piece)
    return sentences


def read_documents(paths: list[str | Path]) -> list[list[str]]:
    """Each file's documents (blank-line separated) as lists of sentences, in file order."""
    if not paths:
        raise CorpusError("corpus: no files given")
    documents: list[list[str]] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise CorpusError(f"corpus: {path} is not a file")
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            line = path.read_bytes()[: e.start].count(b"\n") + 1
            raise CorpusError(f"corpus: {path} is not UTF-8 text (line {line}: {e.reason})") from None
        for block in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
            sentences = [s for line in block.split("\n") if line.strip() for s in split_sentences(line)]
            if sentences:
                documents.append(sentences)
    if not documents:
        raise CorpusError(f"corpus: no text in {', '.join(map(str, paths))}")
    return documents


def normalise(sentence: str) -> str:
    """The form in which sentences are compared for leaks: lower case, single spaces."""
    return " ".join(sentence.lower().split())


# ----------------------------------------------------------------------------------------------------
# Tokenized corpus, cached


@dataclass
class TokenizedCorpus:
    """All sentences' token ids end to end, with offsets: sentence s is ``ids[sentence_starts[s]:sentence_starts[s + 1]]``
    and document d holds sentences ``document_starts[d]`` to ``document_starts[d + 1] - 1``."""

    ids: np.ndarray  # (N,) int32: every token of every sentence, no special tokens
    sentence_starts: np.ndarray  # (S + 1,) int64
    document_starts: np.ndarray  # (D + 1,) int64

    @property
    def num_documents(self) -> int:
        return len(self.document_starts) - 1

    def document(self, d: int) -> list[np.ndarray]:
        s0, s1 = self.document_starts[d], self.document_starts[d + 1]
        return [self.ids[self.sentence_starts[s]:self.sentence_starts[s + 1]] for s in range(s0, s1)]


def tokenize_corpus(paths: list[str | Path], tokenizer, cache_dir: str | Path | None = None,
                    exclude: set[str] | frozenset[str] = frozenset()) -> TokenizedCorpus:
    """Tokenize the documents of ``paths``, with a cache; a sentence whose tokens are those of a sentence in
    ``exclude`` is dropped.

    The comparison is on token ids, after the tokenizer's cleaning and lower-casing, so "Some people are
    shopping ." and "some people are shopping." are the same sentence, as they are to the model. The cache
    lives in ``cache_dir/<key>/``, where the key hashes the files' bytes, the vocabulary and the exclusion
    list: a changed file or vocabulary gives a new key, so a stale cache is never read.
    """
    key = _cache_key(paths, tokenizer, exclude)
    folder = Path(cache_dir) / key if cache_dir is not None else None
    if folder is not None and (folder / "manifest.json").is_file():
        arrays = {name: np.load(folder / f"{name}.npy", allow_pickle=False)
                  for name in ("ids", "sentence_starts", "document_starts")}
        return TokenizedCorpus(**arrays)

    excluded = {tuple(tokenizer._text_to_ids(sentence)) for sentence in exclude}
    ids: list[int] = []
    sentence_starts, document_starts = [0], [0]
    for document in read_documents(paths):
        kept = 0
        for sentence in document:
            pieces = tokenizer._text_to_ids(sentence)
            if pieces and tuple(pieces) not in excluded:
                ids.extend(pieces)
                sentence_starts.append(len(ids))
                kept += 1
        if kept:
            document_starts.append(document_starts[-1] + kept)
    if not ids:
        raise CorpusError(f"corpus: no tokens in {', '.join(map(str, paths))}")
    corpus = TokenizedCorpus(np.asarray(ids, dtype=np.int32), np.asarray(sentence_starts, dtype=np.int64),
                             np.asarray(document_starts, dtype=np.int64))
    if folder is not None:
        _write_cache(folder, corpus, paths)
    return corpus


def _cache_key(paths, tokenizer, exclude) -> str:
    h = hashlib.sha256(f"format {CACHE_FORMAT}; lower {tokenizer.do_lower_case}; accents {tokenizer.strip_accents}\n".encode())
    for path in map(Path, paths):
        if not path.is_file():
            raise CorpusError(f"corpus: {path} is not a file")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    h.update("\n".join(sorted(tokenizer.vocab, key=tokenizer.vocab.get)).encode())
    h.update("\n".join(sorted(exclude)).encode())
    return h.hexdigest()[:16]


def _write_cache(folder: Path, corpus: TokenizedCorpus, paths) -> None:

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("ids", "sentence_starts", "document_starts"):
        array = getattr(corpus, name)

        def write(tmp, array=array):
            with open(tmp, "wb") as f:
                np.save(f, array, allow_pickle=False)

        atomic_write(folder / f"{name}.npy", write)
    manifest = {"format": CACHE_FORMAT, "files": [str(p) for p in paths], "tokens": int(len(corpus.ids)),
                "sentences": int(len(corpus.sentence_starts) - 1), "documents": corpus.num_documents}
    write_json(folder / "manifest.json", manifest)  # last: its presence means the arrays are whole


# ----------------------------------------------------------------------------------------------------
# Packing into examples


@dataclass
class Examples:
    """Packed pre-training examples, padded to ``max_len`` (trim each batch to its longest row)."""

    input_ids: np.ndarray  # (N, max_len) int32: [CLS] A [SEP] (B [SEP]) then [PAD]
    token_type_ids: np.ndarray  # (N, max_len) int8: 0 through the first [SEP], 1 for B
    lengths: np.ndarray  # (N,) int32: tokens before the padding
    next_sentence_label: np.ndarray  # (N,) int8: 0 IsNext, 1 NotNext (all 0 without NSP)

    def __len__(self) -> int:
        return len(self.lengths)


def make_examples(corpus: TokenizedCorpus, max_len: int, special: dict[str, int], nsp: bool = True,
                  seed: int = 0, short_seq_prob: float = 0.1, documents: list[int] | None = None,
                  random_next: float = 0.5) -> Examples:
    """Pack the documents (all, or the indices in ``documents``) into examples of at most ``max_len`` tokens.

    ``special`` holds the ids of ``cls``, ``sep`` and ``pad``. The random choices (short targets, cut
    points, random next documents) come from ``seed`` alone, so the examples are the same on every run.
    With ``nsp``, segment B is text from another document with probability ``random_next`` (BERT's 0.5),
    else the text that follows A, cut at a random sentence boundary. With ``random_next=0`` every B
    follows its A, cut at the sentence boundary nearest the middle (the pairs of the next-segment task,
    ``minisbert.pretraining``, which encodes A and B apart: halves of a size waste the least padding), and
    a chunk of one sentence, which has no second segment, is left out.
    """
    check_probability(random_next, "random_next")
    check_int_range(max_len, "max_len", 8, 512, " (room for [CLS], [SEP] and a few tokens; 512 positions)")
    rng = np.random.default_rng(seed)
    documents = list(range(corpus.num_documents)) if documents is None else list(documents)
    rows: list[tuple[np.ndarray, np.ndarray | None, int]] = []
    for d in documents:
        rows.extend(_pack_document(corpus, d, documents, max_len, nsp, rng, short_seq_prob, random_next))

    n = len(rows)
    input_ids = np.full((n, max_len), special["pad"], dtype=np.int32)
    token_type_ids = np.zeros((n, max_len), dtype=np.int8)
    lengths = np.zeros(n, dtype=np.int32)
    labels = np.zeros(n, dtype=np.int8)
    for i, (a, b, label) in enumerate(rows):
        pieces = [[special["cls"]], a, [special["sep"]]] + ([b, [special["sep"]]] if b is not None else [])
        row = np.concatenate(pieces)
        input_ids[i, :len(row)] = row
        token_type_ids[i, len(a) + 2:len(row)] = 1
        lengths[i], labels[i] = len(row), label
    return Examples(input_ids, token_type_ids, lengths, labels)


def _pack_document(corpus, d, documents, max_len, nsp, rng, short_seq_prob, random_next):
    sentences = corpus.document(d)
    max_tokens = max_len - (3 if nsp else 2)  # room for [CLS], [SEP] (, [SEP])
    target = max_tokens
    if rng.random() < short_seq_prob:
        target = int(rng.integers(2, max_tokens + 1))

    rows, chunk, length, i = [], [], 0, 0
    while i < len(sentences):
        chunk.append(sentences[i])
        length += len(sentences[i])
        if i == len(sentences) - 1 or length >= target:
            if not nsp:
                rows.append((np.concatenate(chunk)[:max_tokens], None, 0))
            else:
                if len(chunk) < 2:
                    a_end = 1
                elif random_next > 0:
                    a_end = int(rng.integers(1, len(chunk)))
                else:  # next-segment pairs: the sentence boundary nearest the middle, two halves of a size
                    ends = np.cumsum([len(c) for c in chunk[:-1]])
                    a_end = 1 + int(np.abs(ends - length / 2).argmin())
                a = np.concatenate(chunk[:a_end])
                if random_next > 0 and (len(chunk) == 1 or rng.random() < random_next) and len(documents) > 1:
                    b, label = _random_segment(corpus, d, documents, target - len(a), rng), 1
                    i -= len(chunk) - a_end  # the unused sentences are packed again
                else:
                    b, label = np.concatenate(chunk[a_end:]) if a_end < len(chunk) else np.zeros(0, np.int32), 0
                a, b = _truncate_pair(a, b, max_tokens, rng)
                if len(a) and len(b):
                    rows.append((a, b, label))
            chunk, length = [], 0
            target = max_tokens if rng.random() >= short_seq_prob else int(rng.integers(2, max_tokens + 1))
        i += 1
    return rows


def _random_segment(corpus, d, documents, length, rng) -> np.ndarray:
    """At least ``length`` tokens (some, if the document is short) from a random other document."""
    for _ in range(10):
        other = documents[int(rng.integers(len(documents)))]
        if other != d:
            break
    sentences = corpus.document(other)
    start = int(rng.integers(len(sentences)))
    taken, total = [], 0
    for sentence in sentences[start:]:
        taken.append(sentence)
        total += len(sentence)
        if total >= max(length, 1):
            break
    return np.concatenate(taken)


def _truncate_pair(a: np.ndarray, b: np.ndarray, max_tokens: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Trim the longer segment one token at a time, from the front or the back at random, as BERT does."""
    front = [0, 0]
    back = [len(a), len(b)]
    while (back[0] - front[0]) + (back[1] - front[1]) > max_tokens:
        side = 0 if back[0] - front[0] > back[1] - front[1] else 1
        if rng.random() < 0.5:
            front[side] += 1
        else:
            back[side] -= 1
    return a[front[0]:back[0]], b[front[1]:back[1]]


# ----------------------------------------------------------------------------------------------------
# The benchmark sentences: what pre-training may read, and what it must never read


def held_out_sentences(data_dir=None) -> set[str]:
    """Every dev and test sentence of STS Benchmark, SICK and SNLI, normalised: never pre-trained on."""

    sentences = set()
    for split in ("dev", "test"):
        sentences |= {normalise(s) for p in load_stsb(split, data_dir) for s in (p.sentence1, p.sentence2)}
        sentences |= {normalise(s) for p in load_sick(split, data_dir) for s in (p.sentence_a, p.sentence_b)}
    sentences |= {normalise(s) for p in load_snli("test", data_dir) for s in (p.premise, p.hypothesis)}
    return sentences


def write_train_sentences(path: str | Path, data_dir=None, sentences_per_document: int = 40) -> Path:
    """Write the train sentences of SNLI, STS Benchmark and SICK as a corpus file, leaving out any held-out one.

    SNLI premises come with their hypotheses (one caption, then what was written about it); STSb and SICK
    pairs come as two consecutive sentences. Every ``sentences_per_document`` sentences start a new
    document, so next-sentence prediction has documents to draw a random one from.
    """

    held_out = held_out_sentences(data_dir)
    groups: dict[str, list[str]] = {}
    for pair in load_snli("train", data_dir):
        groups.setdefault(pair.premise, [pair.premise]).append(pair.hypothesis)
    blocks = list(groups.values())
    blocks += [[p.sentence1, p.sentence2] for p in load_stsb("train", data_dir)]
    blocks += [[p.sentence_a, p.sentence_b] for p in load_sick("train", data_dir)]

    seen: set[str] = set()
    documents, current = [], []
    for block in blocks:
        for sentence in block:
            key = normalise(sentence)
            if key in held_out or key in seen:
                continue
            seen.add(key)
            current.append(" ".join(sentence.split()))
        if len(current) >= sentences_per_document:
            documents.append(current)
            current = []
    if current:
        documents.append(current)
    # One sentence per line, so that no splitting can merge or cut them.
    text = "\n\n".join("\n".join(document) for document in documents) + "\n"
    write_text(path, text)
    return Path(path)


def corpus_vocabulary(corpus: TokenizedCorpus, tokenizer, min_count: int = 20) -> dict[str, int]:
    """The pieces of ``tokenizer``'s vocabulary that ``corpus`` (tokenized with it) uses at least ``min_count`` times.

    Why: the MLM decoder is the word-embedding matrix itself (tied), and every step's softmax pushes the
    vector of every token that is *not* the answer. A piece the corpus never shows is only ever pushed, so
    all such pieces drift together into one crowded corner (Gao et al. 2019, "Representation Degeneration
    Problem in Training Natural Language Generation Models"); a fine-tuning run that meets them later
    starts from worse than random vectors. all-MiniLM-L6-v2's 30,522 pieces were chosen for Wikipedia,
    and a corpus of a few million words uses a fraction of them often enough to learn.

    Kept, in the original order: the special tokens, every piece used ``min_count`` times or more, and the
    single characters (word-initial and ``##``) of every character the corpus' pieces contain, so that
    any word of the corpus still splits into known pieces: greedy longest-match WordPiece then falls back
    to shorter pieces where a long one was dropped. The ids are renumbered from 0, special tokens first.
    """
    check_positive_int(min_count, "min_count")
    counts = np.bincount(corpus.ids, minlength=len(tokenizer.vocab))
    ordered = sorted(tokenizer.vocab, key=tokenizer.vocab.get)
    prefix = tokenizer.CONTINUATION_PREFIX
    characters = {c for piece, n in zip(ordered, counts) if n and piece not in tokenizer.special_tokens
                  for c in piece.removeprefix(prefix)}
    singles = characters | {prefix + c for c in characters}
    special = [t for t in ordered if t in tokenizer.special_tokens]
    kept = special + [piece for piece, n in zip(ordered, counts)
                      if piece not in tokenizer.special_tokens and (n >= min_count or piece in singles)]
    return {piece: i for i, piece in enumerate(kept)}
