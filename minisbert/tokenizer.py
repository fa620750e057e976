"""BERT's uncased WordPiece tokenizer, written out by hand.

BERT (Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers for Language
Understanding", section 3 and appendix A) reads text as WordPiece sub-words (Wu et al. 2016,
"Google's Neural Machine Translation System", section 4.1): a fixed vocabulary of ~30k pieces in
which a word is spelled greedily, longest piece first, continuation pieces carrying a ``##`` prefix.
A sentence becomes ``[CLS] A [SEP]`` and a sentence pair ``[CLS] A [SEP] B [SEP]``, with segment
(token type) ids 0 up to the first ``[SEP]`` and 1 after it.

One text goes through these steps, in this order (the order of Hugging Face's Rust ``tokenizers``,
which ``transformers`` 5.x ``BertTokenizer`` runs and which the tests compare against id for id):

1. special tokens typed in the raw text (``[MASK]``, ``[SEP]``, ...) are cut out and kept whole,
   case-sensitively, before any normalisation (transformers registers them as "added tokens");
2. clean: drop U+0000, U+FFFD and "other" characters (Cc, Cf, Co); map whitespace (tab, newline,
   carriage return and Rust's ``char::is_whitespace``: category Zs, U+2028, U+2029) to a space;
3. put spaces around CJK ideographs, so each one is a word of its own;
4. strip accents (uncased models): NFD, then drop non-spacing marks (category Mn);
5. lower-case, character by character;
6. split on whitespace and cut punctuation out as one-character words (ASCII 33-47, 58-64, 91-96,
   123-126 and category P*: so ``$`` and ``^`` split, ``€``, ``£``, ``°`` do not);
7. WordPiece each word (more than 100 characters, or any part not in the vocabulary: ``[UNK]``);
8. add ``[CLS]``/``[SEP]``, truncate, pad.

Where Hugging Face's two implementations disagree we follow the Rust one: CJK Extension E, the final
sigma (we lower-case character by character), NFC, unassigned code points, the order of stripping
accents and lower-casing, pair truncation (see ``_pair_lengths``) and ``decode``'s space clean-up.
tests/test_tokenizer.py asserts each difference (ours equals Rust, and the Python
``BertTokenizerLegacy`` gives something else). One difference from Rust is left by choice: characters
are classified by Python's ``unicodedata``, not by the older Unicode tables Rust's crate ships, and
tests/test_tokenizer_fuzz.py checks that only such characters differ. docs/parity.md gives every
difference with its examples.

Truncation warns (``warnings.warn``) the first time it actually cuts a text, once per tokenizer
instance, so a silently shortened input is noticed without flooding a training log.
"""

from __future__ import annotations

import os
import re
import unicodedata
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import torch

from .checks import check_strings, is_int
from .io.files import read_json, write_json, write_text
from .io.weights import resolve_model_dir

# --------------------------------------------------------------------------------------------------
# Character classes (steps 2-6 of the module docstring)
# --------------------------------------------------------------------------------------------------

# Rust's char::is_whitespace, minus the control characters that cleaning removes first
# (U+000B, U+000C, U+0085 are category Cc, so they are dropped, not turned into spaces).
_LINE_AND_PARAGRAPH_SEPARATORS = "\u2028\u2029"


def _is_whitespace(char: str) -> bool:
    return char in " \t\n\r" or char in _LINE_AND_PARAGRAPH_SEPARATORS or unicodedata.category(char) == "Zs"


def _is_control(char: str) -> bool:
    # Tab, newline and carriage return are Cc but count as whitespace. Unassigned code points (Cn)
    # are kept, as in Rust (its `is_other` is Cc | Cf | Co); Python's BERT drops every C*.
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf", "Co")


def _is_punctuation(char: str) -> bool:
    # All non-letter/number ASCII is punctuation to BERT, even `$`, `^`, `` ` `` which Unicode calls
    # symbols (Sc, Sk); beyond ASCII only category P* counts, so `€`, `£`, `°` stay inside words.
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(cp: int) -> bool:
    """CJK Unified Ideographs and their extensions, as in Rust's `is_chinese_char`.

    Not Hangul, Hiragana or Katakana: those scripts separate words with spaces. HF's Python version
    ends Extension D at 0x2B81F and starts the next range at 0x2B820; Rust starts it at 0x2B920.
    """
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B920 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


class _CharTable(dict):
    """A `str.translate` table that fills itself in: code point -> replacement (None drops it).

    `str.translate` runs its loop in C, so after the first sight of each character a whole text is
    rewritten at C speed; calling `unicodedata.category` per character per text would dominate.
    """

    def __init__(self, rule):
        super().__init__()
        self.rule = rule

    def __missing__(self, cp: int):
        value = self[cp] = self.rule(chr(cp))
        return value


def _clean_rule(char: str):
    if char == "\x00" or char == "\ufffd" or _is_control(char):
        return None
    return " " if _is_whitespace(char) else char


def _clean_and_space_cjk_rule(char: str):
    cleaned = _clean_rule(char)
    if cleaned is not None and _is_cjk(ord(char)):
        return f" {char} "
    return cleaned


_CLEAN = _CharTable(_clean_rule)
_CLEAN_AND_SPACE_CJK = _CharTable(_clean_and_space_cjk_rule)
_DROP_NONSPACING_MARKS = _CharTable(lambda c: None if unicodedata.category(c) == "Mn" else c)
_ISOLATE_PUNCTUATION = _CharTable(lambda c: f" {c} " if _is_punctuation(c) else c)

# ASCII text (nearly all of STSb and SICK) needs none of the Unicode machinery: one fixed table does
# cleaning and punctuation at once, and NFD, accents and CJK cannot occur.
_ASCII_TABLE = {cp: _clean_rule(chr(cp)) for cp in range(128)}
_ASCII_TABLE.update({cp: f" {chr(cp)} " for cp in range(128) if _is_punctuation(chr(cp))})


def _lowercase(text: str) -> str:
    # str.lower is per character except for one rule, final sigma (word-final Σ -> ς). Rust has no
    # such context, so Σ is lowered to σ first; every other mapping (İ -> i + U+0307 included) is
    # the same per character as on the whole string.
    return text.replace("\u03a3", "\u03c3").lower()


def basic_tokenize(
    text: str,
    do_lower_case: bool = True,
    strip_accents: bool | None = None,
    tokenize_chinese_chars: bool = True,
) -> list[str]:
    """Steps 2-6: clean, space out CJK, strip accents, lower-case, split into words and punctuation.

    ``strip_accents=None`` follows ``do_lower_case``, as in the original BERT. Special tokens are
    not recognised here (``BertTokenizer.tokenize`` cuts them out before calling this).
    """
    if strip_accents is None:
        strip_accents = do_lower_case
    if text.isascii():
        text = text.translate(_ASCII_TABLE)
        return (text.lower() if do_lower_case else text).split()
    text = text.translate(_CLEAN_AND_SPACE_CJK if tokenize_chinese_chars else _CLEAN)
    if strip_accents:
        # NFD splits "é" into "e" + U+0301 (a non-spacing mark), which is then dropped.
        text = unicodedata.normalize("NFD", text).translate(_DROP_NONSPACING_MARKS)
    if do_lower_case:
        text = _lowercase(text)
    # Punctuation comes last: NFD can make some (U+1FEF GREEK VARIA -> "`").
    return text.translate(_ISOLATE_PUNCTUATION).split()


# --------------------------------------------------------------------------------------------------
# Truncation
# --------------------------------------------------------------------------------------------------


def _pair_lengths(len_a: int, len_b: int, budget: int) -> tuple[int, int]:
    """How many tokens of A and of B to keep in a pair ("longest first", as Rust computes it).

    If only the longer side needs cutting, it is cut to what the shorter leaves. If both must go
    below half the budget, they share it: ceil(budget / 2) to the side that was longer (to B on a
    tie), floor(budget / 2) to the other. E.g. 10 + 10 tokens into 7 keeps 3 + 4; 11 + 10 keeps 4 + 3.
    """
    if len_a + len_b <= budget:
        return len_a, len_b
    if 2 * min(len_a, len_b) <= budget:
        return (len_a, budget - len_a) if len_a <= len_b else (budget - len_b, len_b)
    half, extra = divmod(budget, 2)
    return (half + extra, half) if len_a > len_b else (half, half + extra)


# --------------------------------------------------------------------------------------------------
# The tokenizer
# --------------------------------------------------------------------------------------------------


class BatchEncoding(dict):
    """``input_ids``, ``token_type_ids``, ``attention_mask``: a dict, also readable as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to(self, device) -> "BatchEncoding":
        """Move tensors to ``device`` (lists are left as they are)."""
        return BatchEncoding({k: v.to(device) if torch.is_tensor(v) else v for k, v in self.items()})


_PADDING_MODES = {  # argument -> what to pad to (None: no padding)
    True: "longest", "longest": "longest", "max_length": "max_length", False: None, "do_not_pad": None,
}
_TRUNCATION_MODES = {True: True, "longest_first": True, False: False, "do_not_truncate": False,
                     "only_first": "only_first", "only_second": "only_second"}


def special_tokens(config: dict) -> dict[str, str]:
    """The special tokens a ``tokenizer_config.json`` names: {"unk_token": "[UNK]", ...}, those it has."""
    tokens = {}
    for key in ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        token = config.get(key)
        if isinstance(token, dict):  # older configs store {"content": "[UNK]", ...}
            token = token.get("content")
        if token is not None:
            tokens[key] = token
    return tokens


class VocabularyNotFoundError(FileNotFoundError, ValueError):
    """No vocabulary file where one was expected: a missing file (``FileNotFoundError``), and the
    ``ValueError`` transformers raises for it ("Can't find a vocabulary file at path ...")."""


def load_vocab(path: str | os.PathLike) -> dict[str, int]:
    """``vocab.txt``: one token per line, its id is the line number (from 0).

    A file that is not UTF-8 text, is empty, or lists a token twice (which would give two ids one
    token) is refused with a ValueError naming the file and the line.
    """
    if not os.path.isfile(path):
        raise VocabularyNotFoundError(f"Can't find a vocabulary file at path '{path}'")
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.rstrip("\r\n") for line in f]
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not a vocabulary file: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if not lines:
        raise ValueError(f"{path} is not a vocabulary file: it is empty (one token per line expected)")
    vocab: dict[str, int] = {}
    for i, token in enumerate(lines):
        if token in vocab:
            raise ValueError(f"{path} is not a usable vocabulary: line {i + 1} repeats the token {token!r} "
                             f"of line {vocab[token] + 1}")
        vocab[token] = i
    return vocab


def vocab_from_tokenizer_json(path: Path) -> tuple[dict[str, int], dict]:
    """The WordPiece vocabulary and the BertNormalizer settings of a ``tokenizer.json``, checked: a
    ValueError names the file and what is wrong (wrong types, no ``vocab``, ids not 0..n-1, ...)."""
    spec = read_json(path)
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: a tokenizer.json holds a JSON object, got {type(spec).__name__}")
    model, normalizer = spec.get("model"), spec.get("normalizer")
    if not isinstance(model, dict):
        raise ValueError(f"{path}: 'model' must be an object with the WordPiece vocabulary, got {type(model).__name__}")
    if normalizer is not None and not isinstance(normalizer, dict):
        raise ValueError(f"{path}: 'normalizer' must be an object, got {type(normalizer).__name__}")
    normalizer = normalizer or {}
    if model.get("type") != "WordPiece" or normalizer.get("type") != "BertNormalizer":
        raise ValueError(f"{path}: not a BERT WordPiece tokenizer "
                         f"(model {model.get('type')!r}, normalizer {normalizer.get('type')!r})")
    vocab = model.get("vocab")
    if not isinstance(vocab, dict) or not vocab:
        what = "missing" if vocab is None else f"a {type(vocab).__name__}" if not isinstance(vocab, dict) else "empty"
        raise ValueError(f"{path}: model.vocab must be a non-empty object of token -> id, it is {what}")
    bad = next(((t, i) for t, i in vocab.items() if not is_int(i) or i < 0), None)
    if bad is not None:
        raise ValueError(f"{path}: model.vocab[{bad[0]!r}] must be an id (an int >= 0), got {bad[1]!r}")
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise ValueError(f"{path}: model.vocab's ids must be 0 to {len(vocab) - 1}, each once")
    settings = {}
    for key, name in (("lowercase", "do_lower_case"), ("strip_accents", "strip_accents"),
                      ("handle_chinese_chars", "tokenize_chinese_chars")):
        value = normalizer.get(key)
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"{path}: normalizer.{key} must be true, false or null, got {value!r}")
        settings[name] = value
    for name in ("do_lower_case", "tokenize_chinese_chars"):  # both default to true
        settings[name] = True if settings[name] is None else settings[name]
    return dict(vocab), settings


class BertTokenizer:
    """Uncased (or cased) BERT WordPiece tokenizer; same ids as ``transformers.BertTokenizer``.

    >>> tok = BertTokenizer.from_pretrained("weights/all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> tok(["A man is playing a guitar."])["input_ids"]  # doctest: +SKIP
    tensor([[ 101, 1037, 2158, 2003, 2652, 1037, 2858, 1012,  102]])
    """

    # Hugging Face writes int(1e30) when a checkpoint does not record its limit; BERT's position
    # table has 512 rows, so anything absurd falls back to that.
    DEFAULT_MAX_LENGTH = 512
    CONTINUATION_PREFIX = "##"
    MAX_INPUT_CHARS_PER_WORD = 100

    def __init__(
        self,
        vocab: dict[str, int] | str | os.PathLike,
        do_lower_case: bool = True,
        strip_accents: bool | None = None,
        tokenize_chinese_chars: bool = True,
        model_max_length: int | None = 512,
        unk_token: str = "[UNK]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        cls_token: str = "[CLS]",
        mask_token: str = "[MASK]",
        *,
        do_basic_tokenize: bool = True,
        never_split: Iterable[str] | None = None,
        padding_side: str = "right",
    ):
        """``do_basic_tokenize=False``: no cleaning, lower-casing or punctuation splitting, WordPiece on the
        whitespace-separated words as they are; ``never_split``: words (between spaces, after cleaning) kept
        whole and as typed, their id or [UNK]. Both as transformers' Python ``BertTokenizer`` (now
        ``BertTokenizerLegacy``) does them. ``padding_side``: "right" or "left", where ``__call__`` pads."""
        self.vocab: dict[str, int] = dict(vocab) if isinstance(vocab, dict) else load_vocab(vocab)
        self.ids_to_tokens: dict[int, str] = {i: t for t, i in self.vocab.items()}
        self.do_lower_case = do_lower_case
        self.strip_accents = do_lower_case if strip_accents is None else strip_accents
        self.tokenize_chinese_chars = tokenize_chinese_chars
        if not model_max_length or model_max_length > 1_000_000:
            model_max_length = self.DEFAULT_MAX_LENGTH
        self.model_max_length = int(model_max_length)
        if not isinstance(do_basic_tokenize, bool):
            raise TypeError(f"do_basic_tokenize must be True or False, got {do_basic_tokenize!r}")
        if isinstance(never_split, str) or (never_split is not None and not all(isinstance(w, str) for w in never_split)):
            raise TypeError(f"never_split must be a list of str, got {never_split!r}")
        _check_padding_side(padding_side)
        self.do_basic_tokenize = do_basic_tokenize
        self.never_split = set(never_split or ())
        self.padding_side = padding_side

        required = {"unk_token": unk_token, "sep_token": sep_token, "pad_token": pad_token, "cls_token": cls_token}
        for name, token in required.items():
            if token not in self.vocab:
                where = f" of {vocab}" if not isinstance(vocab, dict) else ""
                raise ValueError(f"{name} {token!r} is not in the vocabulary{where}")
        self.unk_token, self.sep_token, self.pad_token, self.cls_token = required.values()
        self.mask_token = mask_token if mask_token in self.vocab else None
        self.unk_token_id = self.vocab[unk_token]
        self.sep_token_id = self.vocab[sep_token]
        self.pad_token_id = self.vocab[pad_token]
        self.cls_token_id = self.vocab[cls_token]
        self.mask_token_id = self.vocab.get(mask_token)

        # Special tokens typed in the text are kept whole. Longest first, so that a regex
        # alternation (leftmost, then first alternative) finds the longest match at a position.
        self.special_tokens = [t for t in (*required.values(), mask_token) if t in self.vocab]
        self.special_ids = {self.vocab[t] for t in self.special_tokens}
        alternatives = sorted(set(self.special_tokens), key=len, reverse=True)
        self._special_pattern = re.compile("|".join(map(re.escape, alternatives)))

        # No piece is longer than this, so the greedy search can start its window there instead of
        # at the end of a long word (same result, less work on 100-character junk).
        prefix = self.CONTINUATION_PREFIX
        self._longest_piece = max(len(t) - len(prefix) if t.startswith(prefix) else len(t) for t in self.vocab)
        self._wordpiece_cache: dict[str, tuple[int, ...]] = {}
        self._warned_truncation = False

    @classmethod
    def from_pretrained(cls, name_or_folder: str | os.PathLike, **overrides) -> "BertTokenizer":
        """The tokenizer of a model folder, or of a fetched model by name (``all-MiniLM-L6-v2`` or the hub's
        ``sentence-transformers/all-MiniLM-L6-v2``, as ``BertModel.from_pretrained`` takes).

        The vocabulary comes from ``vocab.txt`` (what BERT checkpoints and ``save`` write) or, failing that,
        from ``tokenizer.json`` (all that sentence-transformers 6.x writes): its WordPiece vocabulary and
        its BertNormalizer flags are the same information, so either gives the same ids. Settings come
        from ``tokenizer_config.json`` when present; ``overrides`` win over both.
        """
        folder = resolve_model_dir(name_or_folder, holds="vocab.txt or tokenizer.json")
        config = read_json(folder / "tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
        if not isinstance(config, dict):
            raise ValueError(f"{folder / 'tokenizer_config.json'}: a JSON object of settings expected, "
                             f"got {type(config).__name__}")
        kwargs = {}
        if (folder / "vocab.txt").is_file():
            vocab = load_vocab(folder / "vocab.txt")
            for key in ("do_lower_case", "strip_accents", "tokenize_chinese_chars"):
                if config.get(key) is not None:
                    kwargs[key] = config[key]
        elif (folder / "tokenizer.json").is_file():
            vocab, kwargs = vocab_from_tokenizer_json(folder / "tokenizer.json")
        else:
            raise VocabularyNotFoundError(f"no vocab.txt or tokenizer.json in {folder} "
                                          f"(Can't find a vocabulary file at path '{folder / 'vocab.txt'}')")
        if config.get("model_max_length") is not None:
            kwargs["model_max_length"] = config["model_max_length"]
        for key in ("do_basic_tokenize", "never_split", "padding_side"):
            if config.get(key) is not None:
                kwargs[key] = config[key]
        kwargs.update(special_tokens(config))
        kwargs.update(overrides)
        try:
            return cls(vocab, **kwargs)
        except (TypeError, ValueError) as e:
            if "vocabulary of" in str(e) or overrides:
                raise
            source = folder / ("vocab.txt" if (folder / "vocab.txt").is_file() else "tokenizer.json")
            raise ValueError(f"{source} (with {folder / 'tokenizer_config.json'}): {e}") from None

    def save(self, folder: str | os.PathLike, model_max_length: int | None = None) -> None:
        """Write ``vocab.txt``, ``tokenizer_config.json`` and ``special_tokens_map.json`` into ``folder``:
        what ``from_pretrained`` here and transformers' ``BertTokenizer`` read back.

        ``model_max_length``: the limit to record (a model saves its ``max_seq_length``, which
        sentence-transformers 6.x reads back from here too); default: this tokenizer's own.
        """
        folder = Path(folder)
        by_id = sorted(self.vocab.items(), key=lambda item: item[1])
        if [i for _, i in by_id] != list(range(len(by_id))):
            raise ValueError("cannot write vocab.txt: the tokenizer's ids are not 0, 1, ..., n - 1")
        write_text(folder / "vocab.txt", "".join(token + "\n" for token, _ in by_id))
        special = {name: getattr(self, name) for name in ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
                   if getattr(self, name) is not None}
        write_json(folder / "tokenizer_config.json", {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": self.do_lower_case,
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": self.tokenize_chinese_chars,
            "model_max_length": self.model_max_length if model_max_length is None else model_max_length,
            **({"do_basic_tokenize": False} if not self.do_basic_tokenize else {}),
            **({"never_split": sorted(self.never_split)} if self.never_split else {}),
            **({"padding_side": self.padding_side} if self.padding_side != "right" else {}),
            **special,
        })
        write_json(folder / "special_tokens_map.json", special)

    def __len__(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        """A copy of the vocabulary, token -> id."""
        return dict(self.vocab)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """2 for ``[CLS] A [SEP]``, 3 for ``[CLS] A [SEP] B [SEP]``."""
        return 3 if pair else 2

    def build_inputs_with_special_tokens(self, token_ids_0: list[int], token_ids_1: list[int] | None = None) -> list[int]:
        """``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]`` from ids without special tokens."""
        ids = [self.cls_token_id, *token_ids_0, self.sep_token_id]
        return ids if token_ids_1 is None else ids + [*token_ids_1, self.sep_token_id]

    def create_token_type_ids_from_sequences(self, token_ids_0: list[int],
                                             token_ids_1: list[int] | None = None) -> list[int]:
        """The segment ids of ``build_inputs_with_special_tokens``: 0 through the first [SEP], 1 after."""
        types = [0] * (len(token_ids_0) + 2)
        return types if token_ids_1 is None else types + [1] * (len(token_ids_1) + 1)

    def get_special_tokens_mask(self, token_ids_0: list[int], token_ids_1: list[int] | None = None,
                                already_has_special_tokens: bool = False) -> list[int]:
        """1 where ``build_inputs_with_special_tokens`` puts [CLS] or [SEP], 0 at the text's ids; with
        ``already_has_special_tokens``, 1 at each special token's id in ``token_ids_0``."""
        if already_has_special_tokens:
            return [1 if i in self.special_ids else 0 for i in token_ids_0]
        mask = [1] + [0] * len(token_ids_0) + [1]
        return mask if token_ids_1 is None else mask + [0] * len(token_ids_1) + [1]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return (
            f"BertTokenizer(vocab_size={self.vocab_size}, do_lower_case={self.do_lower_case}, "
            f"strip_accents={self.strip_accents}, tokenize_chinese_chars={self.tokenize_chinese_chars}, "
            f"model_max_length={self.model_max_length})"
        )

    # ---- text -> pieces -------------------------------------------------------------------------

    def _wordpiece(self, word: str) -> tuple[int, ...]:
        """Greedy longest-match-first (Wu et al. 2016): ``unaffable`` -> ``un ##aff ##able``.

        If some part of the word matches no piece, the whole word is ``[UNK]`` (not just that part),
        as in BERT; so is any word over 100 characters.
        """
        return tuple(piece_id for piece_id, _, _ in self._wordpiece_spans(word))

    def _wordpiece_spans(self, word: str) -> list[tuple[int, int, int]]:
        """``_wordpiece`` with where each piece lies in the word: [(id, start, end), ...]; an [UNK] word
        covers the whole word."""
        if len(word) > self.MAX_INPUT_CHARS_PER_WORD:
            return [(self.unk_token_id, 0, len(word))]
        pieces = []
        start = 0
        while start < len(word):
            prefix = self.CONTINUATION_PREFIX if start > 0 else ""
            end = min(len(word), start + self._longest_piece)
            while end > start:
                piece_id = self.vocab.get(prefix + word[start:end])
                if piece_id is not None:
                    break
                end -= 1
            else:
                return [(self.unk_token_id, 0, len(word))]
            pieces.append((piece_id, start, end))
            start = end
        return pieces

    def _encode_text(self, text: str, offsets: bool = False) -> tuple[list[int], list[tuple[int, int]] | None]:
        """One text -> its WordPiece ids (no [CLS]/[SEP]) and, with ``offsets``, each id's span
        ``(start, end)`` of characters in ``text`` (transformers' ``return_offsets_mapping``).

        The spans come from doing steps 2-6 one input character at a time: every character that
        cleaning, accent stripping and lower-casing make from input character k remembers k, so a
        piece covering word characters a..b-1 spans from the input index of a to that of b-1, plus one.
        The same ids as ``_text_to_ids``, which does the steps on the whole text at once (faster).
        """
        if not offsets and self.do_basic_tokenize and not self.never_split:
            return self._text_to_ids(text), None
        ids, spans = [], []
        end = 0
        for segment, special in self._split_special_tokens(text):
            start, end = end, end + len(segment)
            if special:
                ids.append(self.vocab[segment])
                spans.append((start, end))
                continue
            for word, at, whole in self._words(segment, start):  # at[i]: the index in text of word[i]
                pieces = [(self.vocab.get(word, self.unk_token_id), 0, len(word))] if whole else self._wordpiece_spans(word)
                for piece_id, a, b in pieces:
                    ids.append(piece_id)
                    spans.append((at[a], at[b - 1] + 1))
        return ids, spans if offsets else None

    def _words(self, segment: str, base: int):
        """Yield (word, input index of each of its characters, kept whole?) for one segment of text
        between special tokens, which starts at index ``base`` of the text: steps 2-6 character by character."""
        chars = [(c, base + k) for k, c in enumerate(segment)]
        if not self.do_basic_tokenize:  # WordPiece on the words between spaces, as they are
            yield from ((word, at, False) for word, at in _split_on_spaces(chars))
            return
        cleaned = [(out, k) for c, k in chars for out in (_clean_rule(c) or "")]  # step 2: a dropped one gives ""
        for token, at in _split_on_spaces(cleaned):
            if token in self.never_split:
                yield token, at, True
                continue
            normalised = []
            for c, k in zip(token, at):
                out = f" {c} " if self.tokenize_chinese_chars and _is_cjk(ord(c)) else c  # step 3
                if self.strip_accents:  # step 4
                    out = unicodedata.normalize("NFD", out).translate(_DROP_NONSPACING_MARKS)
                if self.do_lower_case:  # step 5
                    out = _lowercase(out)
                normalised.extend((o, k) for o in out.translate(_ISOLATE_PUNCTUATION))  # step 6
            yield from ((word, at, False) for word, at in _split_on_spaces(normalised))

    def _text_to_ids(self, text: str) -> list[int]:
        """Steps 1-7 of the module docstring: one text -> WordPiece ids, no [CLS]/[SEP] yet."""
        if not self.do_basic_tokenize or self.never_split:
            return self._encode_text(text, offsets=True)[0]
        ids: list[int] = []
        cache = self._wordpiece_cache
        for segment, special in self._split_special_tokens(text):
            if special:
                ids.append(self.vocab[segment])
                continue
            words = basic_tokenize(segment, self.do_lower_case, self.strip_accents, self.tokenize_chinese_chars)
            for word in words:
                pieces = cache.get(word)
                if pieces is None:
                    if len(cache) > 1_000_000:  # bound memory on endless streams of new words
                        cache.clear()
                    pieces = cache[word] = self._wordpiece(word)
                ids.extend(pieces)
        return ids

    def _split_special_tokens(self, text: str) -> Iterable[tuple[str, bool]]:
        """Yield (segment, is_special): `"a[MASK]b"` -> ("a", False), ("[MASK]", True), ("b", False)."""
        start = 0
        for match in self._special_pattern.finditer(text):
            yield text[start : match.start()], False
            yield match.group(), True
            start = match.end()
        yield text[start:], False

    def tokenize(self, text: str) -> list[str]:
        """Text -> WordPiece tokens, no ``[CLS]``/``[SEP]``: ``"Unwanted"`` -> ``['un', '##want', '##ed']``."""
        _check_str(text, "text")
        return self.convert_ids_to_tokens(self._text_to_ids(text))

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]):
        """A token or a list of tokens -> id(s); tokens not in the vocabulary give ``unk_token_id``."""
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        return [self.vocab.get(t, self.unk_token_id) for t in tokens]

    def convert_ids_to_tokens(self, ids: int | Sequence[int]):
        """An id or a list of ids (or a 1-D tensor) -> token(s)."""
        if torch.is_tensor(ids):
            ids = ids.tolist()
        if isinstance(ids, int):
            return self._id_to_token(ids)
        return [self._id_to_token(i) for i in ids]

    def _id_to_token(self, i: int) -> str:
        try:
            return self.ids_to_tokens[i]
        except KeyError:
            raise ValueError(f"id {i} is not in the vocabulary (size {self.vocab_size})") from None

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        """Ids -> text: pieces joined with spaces, ``##`` pieces glued to the previous one.

        Lower-casing and accent stripping cannot be undone. Spaces before ``.``, ``?``, ``!``, ``,``
        are removed, token by token, as Hugging Face's Rust WordPiece decoder does.
        """
        if torch.is_tensor(ids):
            ids = ids.tolist()
        if skip_special_tokens:
            ids = [i for i in ids if i not in self.special_ids]
        return self.convert_tokens_to_string(self.convert_ids_to_tokens(ids))

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Tokens -> text, as ``decode`` joins them: ``["un", "##want", "##ed", ","]`` -> ``"unwanted,"``."""
        if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
            raise TypeError(f"tokens must be a list of str, got {tokens!r:.80}")
        prefix = self.CONTINUATION_PREFIX
        out = []
        for i, token in enumerate(tokens):
            if i > 0:
                token = token[len(prefix) :] if token.startswith(prefix) else " " + token
            for before, after in _DECODE_CLEANUP:
                token = token.replace(before, after)
            out.append(token)
        return "".join(out)

    # ---- pieces -> model inputs -----------------------------------------------------------------

    def __call__(
        self,
        text: str | Sequence[str],
        text_pair: str | Sequence[str] | None = None,
        padding: bool | str = True,
        truncation: bool | str = True,
        max_length: int | None = None,
        return_tensors: str | None = "pt",
        *,
        stride: int = 0,
        return_overflowing_tokens: bool = False,
        return_offsets_mapping: bool = False,
        return_special_tokens_mask: bool = False,
        padding_side: str | None = None,
    ) -> BatchEncoding:
        """Encode one text or a batch (optionally paired) into ``input_ids``, ``token_type_ids``,
        ``attention_mask``.

        - ``padding``: True/"longest" pads to the longest in the batch, "max_length" to
          ``max_length``, False/"do_not_pad" not at all, with ``[PAD]``, token type 0 and mask 0, on
          the ``padding_side`` ("right", or "left"; None: ``self.padding_side``).
        - ``truncation``: True/"longest_first" cuts to ``max_length`` (default ``model_max_length``)
          counting ``[CLS]``/``[SEP]``; for pairs see ``_pair_lengths``. "only_first" / "only_second"
          cut only that text of a pair (a ValueError if that is not enough). False/"do_not_truncate":
          every id is kept; a text longer than ``max_length`` gets a warning, as in transformers.
        - ``return_overflowing_tokens``: the tokens a cut removes come back as more rows, windows of
          the cut text that overlap by ``stride`` tokens (row r of ``overflow_to_sample_mapping``
          names its input); the other text of a pair is repeated in each.
        - ``return_offsets_mapping``: ``offset_mapping``, each token's (start, end) characters in its
          text; (0, 0) for [CLS], [SEP] and [PAD].
        - ``return_special_tokens_mask``: ``special_tokens_mask``, 1 at [CLS], [SEP] and [PAD].
        - ``return_tensors``: "pt" gives tensors of shape (B, T) (offsets (B, T, 2)); None gives
          lists, unbatched for a single string (unless overflowing rows were asked for).
        """
        texts, batched = _as_batch(text, "text")
        pairs = None
        if text_pair is not None:
            pairs, pair_batched = _as_batch(text_pair, "text_pair")
            if pair_batched != batched:
                raise TypeError("text and text_pair must both be str or both be lists of str")
            if len(pairs) != len(texts):
                raise ValueError(f"text has {len(texts)} items but text_pair has {len(pairs)}")
        if padding not in _PADDING_MODES:
            raise ValueError(
                f"padding must be True, False, 'longest', 'max_length' or 'do_not_pad', got {padding!r}"
            )
        if truncation not in _TRUNCATION_MODES:
            raise ValueError(f"truncation must be True, False, 'longest_first', 'only_first', 'only_second' or "
                             f"'do_not_truncate', got {truncation!r}")
        if return_tensors not in ("pt", None):
            raise ValueError(f"return_tensors must be 'pt' or None, got {return_tensors!r}")
        for name, flag in (("return_overflowing_tokens", return_overflowing_tokens),
                           ("return_offsets_mapping", return_offsets_mapping),
                           ("return_special_tokens_mask", return_special_tokens_mask)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        padding_side = self.padding_side if padding_side is None else padding_side
        _check_padding_side(padding_side)
        pad_mode, truncate = _PADDING_MODES[padding], _TRUNCATION_MODES[truncation]
        if max_length is None:
            max_length = self.model_max_length
        if not is_int(max_length):
            raise TypeError(f"max_length must be an int, got {type(max_length).__name__}")
        n_special = 2 if pairs is None else 3  # [CLS] A [SEP] (B [SEP])
        if max_length < n_special:
            raise ValueError(f"max_length={max_length} is too small: the special tokens alone need {n_special}")
        if not is_int(stride) or stride < 0:
            raise ValueError(f"stride must be an int >= 0, got {stride!r}")
        if return_overflowing_tokens and truncate and stride >= max_length - n_special:
            raise ValueError(f"stride={stride} must be less than the {max_length - n_special} tokens of text a row "
                             f"holds (max_length={max_length} minus {n_special} special tokens)")
        if truncate == "only_second" and pairs is None:
            raise ValueError("truncation='only_second' needs a text_pair to cut")

        rows = []  # one per output row: (ids, types, offsets, special mask, index of its input)
        for i, a in enumerate(texts):
            ids_a, offs_a = self._encode_text(a, return_offsets_mapping)
            ids_b, offs_b = self._encode_text(pairs[i], return_offsets_mapping) if pairs is not None else (None, None)
            length = len(ids_a) + n_special + (len(ids_b) if ids_b is not None else 0)
            if length > max_length and not truncate:
                warnings.warn(f"Token indices sequence length is longer than the specified maximum sequence length "
                              f"for this model ({length} > {max_length}): text[{i}] is {length} tokens long; running "
                              "it through the model will fail (its position table ends there)", stacklevel=2)
            windows = [((0, len(ids_a)), (0, len(ids_b or ())))]  # the spans of A and B each row keeps
            if length > max_length and truncate:
                windows = self._truncation_windows(i, len(ids_a), None if ids_b is None else len(ids_b),
                                                   max_length - n_special, truncate, stride, return_overflowing_tokens)
            for (a0, a1), (b0, b1) in windows:
                ids = [self.cls_token_id, *ids_a[a0:a1], self.sep_token_id]
                types = [0] * len(ids)
                special = [1] + [0] * (a1 - a0) + [1]
                offsets = [(0, 0), *offs_a[a0:a1], (0, 0)] if return_offsets_mapping else None
                if ids_b is not None:
                    ids += [*ids_b[b0:b1], self.sep_token_id]
                    types += [1] * (b1 - b0 + 1)
                    special += [0] * (b1 - b0) + [1]
                    if offsets is not None:
                        offsets += [*offs_b[b0:b1], (0, 0)]
                rows.append((ids, types, offsets, special, i))

        encoded = {"input_ids": [r[0] for r in rows], "token_type_ids": [r[1] for r in rows],
                   "attention_mask": [[1] * len(r[0]) for r in rows]}
        if return_special_tokens_mask:
            encoded["special_tokens_mask"] = [r[3] for r in rows]
        if return_offsets_mapping:
            encoded["offset_mapping"] = [r[2] for r in rows]
        if pad_mode is not None and rows:
            target = max_length if pad_mode == "max_length" else max(len(r[0]) for r in rows)
            fill = {"input_ids": self.pad_token_id, "token_type_ids": 0, "attention_mask": 0,
                    "special_tokens_mask": 1, "offset_mapping": (0, 0)}
            for key, lists in encoded.items():
                for row in lists:
                    n = target - len(row)
                    if n > 0:  # a row longer than max_length (no truncation) stays as it is
                        row[len(row):] = [fill[key]] * n if padding_side == "right" else []
                        if padding_side == "left":
                            row[:0] = [fill[key]] * n
        if return_overflowing_tokens:
            encoded["overflow_to_sample_mapping"] = [r[4] for r in rows]

        if return_tensors == "pt":
            if len({len(ids) for ids in encoded["input_ids"]}) > 1:
                raise ValueError(
                    "sequences have different lengths and padding is off, so they cannot form one "
                    "tensor; use padding=True or return_tensors=None"
                )
            B = len(rows)
            T = len(rows[0][0]) if rows else 0
            return BatchEncoding({key: torch.tensor(value, dtype=torch.long).reshape(
                (B,) if key == "overflow_to_sample_mapping" else (B, T, 2) if key == "offset_mapping" else (B, T))
                for key, value in encoded.items()})  # (B, T), also for B = 0
        if not batched and not return_overflowing_tokens:
            return BatchEncoding({key: value[0] for key, value in encoded.items()})
        return BatchEncoding(encoded)

    def _truncation_windows(self, i: int, len_a: int, len_b: int | None, budget: int, mode, stride: int,
                            overflow: bool) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """The spans ((a0, a1), (b0, b1)) of A and B that each row keeps, when ``budget`` tokens of text fit.

        Without ``overflow`` one row, the first window. With it, the text being cut is read in windows of
        the tokens it may keep, each starting ``stride`` tokens before the end of the one before
        (transformers' fast tokenizers), until a window reaches its end: windows of k tokens start at
        0, k - stride, 2 (k - stride), ...
        """
        b = 0 if len_b is None else len_b
        if mode is True:  # longest first
            keep_a, keep_b = (budget, 0) if len_b is None else _pair_lengths(len_a, len_b, budget)
            if overflow and keep_a < len_a and len_b is not None and keep_b < len_b:
                raise ValueError(f"text[{i}] and text_pair[{i}] would both be cut: return_overflowing_tokens needs "
                                 "truncation='only_first' or 'only_second' for such a pair")
        elif mode == "only_first":
            keep_a, keep_b = budget - b, b
        else:  # only_second
            keep_a, keep_b = len_a, budget - len_a
        if keep_a < 0 or keep_b < 0:
            which = "text" if mode == "only_first" else "text_pair"
            raise ValueError(f"Truncation error: Sequence to truncate too short to respect the provided max_length: "
                             f"truncation={mode!r} cannot make the pair {i} fit in {budget + 3} tokens by cutting "
                             f"{which}[{i}] alone")
        self._warn_truncation(budget)
        cut_b = len_b is not None and keep_b < len_b
        length, keep = (len_b, keep_b) if cut_b else (len_a, keep_a)
        starts = [0]
        while overflow and starts[-1] + keep < length:
            starts.append(starts[-1] + keep - stride)
        spans = [(s, min(s + keep, length)) for s in starts]
        return [((0, keep_a), span) if cut_b else (span, (0, keep_b)) for span in spans]

    def _warn_truncation(self, budget: int) -> None:
        if not self._warned_truncation:
            self._warned_truncation = True
            warnings.warn(
                f"an input longer than the limit was truncated to {budget} tokens of text "
                "(this warning is shown once per tokenizer)",
                stacklevel=4,
            )


# Rust's WordPiece decoder applies these to each token once it has its leading space (not to the
# joined text), so " n't" or " do not" can only match a vocabulary entry that spells them whole.
_DECODE_CLEANUP = [
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" do not", " don't"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
]


def _split_on_spaces(chars: list[tuple[str, int]]):
    """Yield (word, indices) for each run of non-space characters of [(char, index), ...], as ``str.split``."""
    word, at = [], []
    for c, k in chars:
        if c.isspace():
            if word:
                yield "".join(word), at
            word, at = [], []
        else:
            word.append(c)
            at.append(k)
    if word:
        yield "".join(word), at


def _check_padding_side(side) -> None:
    if side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', got {side!r}")


def _check_str(value, name: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str, got {type(value).__name__}")


def _as_batch(value, name: str) -> tuple[list[str], bool]:
    """A str or a list/tuple of str -> (list, was it a batch); errors name the argument and index."""
    if isinstance(value, str):
        return [value], False
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a str or a list of str, got {type(value).__name__}")
    check_strings(value, name)
    return list(value), True


# --------------------------------------------------------------------------------------------------
# Loading from a model folder
# --------------------------------------------------------------------------------------------------


def load_tokenizer(folder: str | os.PathLike) -> BertTokenizer:
    """The folder's BertTokenizer, from vocab.txt or, failing that, from tokenizer.json
    (``BertTokenizer.from_pretrained``)."""
    return BertTokenizer.from_pretrained(folder)


def has_tokenizer(folder: str | os.PathLike) -> bool:
    """Whether ``load_tokenizer`` finds a vocabulary in ``folder`` (vocab.txt or tokenizer.json)."""
    folder = Path(folder)
    return (folder / "vocab.txt").is_file() or (folder / "tokenizer.json").is_file()
