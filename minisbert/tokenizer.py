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

Where Hugging Face's two implementations disagree we follow the Rust one; each difference was
measured on all-MiniLM-L6-v2's vocabulary and is asserted in tests/test_tokenizer.py (ours equals
Rust, and the Python ``BertTokenizerLegacy`` gives something else):

* CJK ranges. Rust's ``is_chinese_char`` skips U+2B820-U+2B91F (the start of CJK Extension E);
  HF's Python version (and google-research/bert) isolates them too. Here they are ordinary letters.
* Final sigma. Python's ``str.lower`` writes a word-final ``Σ`` as ``ς``; Rust lower-cases each
  character on its own, so ``ΟΔΟΣ`` becomes ``οδοσ``. We lower-case character by character.
* NFC. HF's Python version NFC-normalises the text first; Rust does not. It shows when accents are
  kept (``strip_accents=False``): ``cafe`` + U+0301 stays decomposed here, as in Rust.
* Unassigned code points (Cn, e.g. U+0378). Python's ``_is_control`` drops every category C*;
  Rust's ``is_other`` covers Cc, Cf, Co only, so an unassigned code point stays in its word (which
  then is usually ``[UNK]``). We keep them, as Rust does.
* Accents are stripped before lower-casing (Rust) rather than after (Python); no character of
  Unicode 14 gives a different result either way, but the order is Rust's.
* Pair truncation ("longest first"). Python trims the longer side one token at a time, the second
  on a tie. Rust computes the lengths in one go: when both sides must be cut below half the budget
  B, the originally longer side keeps ceil(B/2) tokens and the other floor(B/2), the second side
  keeping the extra token on a tie. With an odd budget the two disagree; see ``_pair_lengths``.
* ``decode`` cleans up spaces per token, as Rust's WordPiece decoder does (`` .`` -> ``.``, also
  ``?``, ``!``, ``,``), not on the joined string (Python also turned `` 's`` into ``'s``, ...).

One difference from Rust is left as it is, by choice: the Unicode version. Rust classifies
characters with the ``unicode_categories`` crate, whose tables are Unicode 8.0, while we ask
Python's ``unicodedata`` (Unicode 14.0 on Python 3.11). About 500 code points assigned in Unicode
9-14 (384 new non-spacing marks, 104 new punctuation marks, 13 new format characters, mostly
historic scripts and Quranic annotation) are ordinary letters to Rust and marks, punctuation or
format characters here; a few more changed category since 8.0 (U+1734, U+166D, U+111C9), U+11938
decomposes here and not in Rust, and 55 letters of Unicode 16 (e.g. U+A7CB) are lower-cased by
Rust's standard library but unknown to Python 3.11. Matching these would mean shipping Rust's
tables; tests/test_tokenizer_fuzz.py enumerates the set against the reference and checks that it
holds only such characters.

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
from .files import read_json, write_json, write_text

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
_TRUNCATION_MODES = {True: True, "longest_first": True, False: False, "do_not_truncate": False}


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


def load_vocab(path: str | os.PathLike) -> dict[str, int]:
    """``vocab.txt``: one token per line, its id is the line number (from 0)."""
    with open(path, encoding="utf-8") as f:
        return {line.rstrip("\r\n"): i for i, line in enumerate(f)}


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
    ):
        self.vocab: dict[str, int] = dict(vocab) if isinstance(vocab, dict) else load_vocab(vocab)
        self.ids_to_tokens: dict[int, str] = {i: t for t, i in self.vocab.items()}
        self.do_lower_case = do_lower_case
        self.strip_accents = do_lower_case if strip_accents is None else strip_accents
        self.tokenize_chinese_chars = tokenize_chinese_chars
        if not model_max_length or model_max_length > 1_000_000:
            model_max_length = self.DEFAULT_MAX_LENGTH
        self.model_max_length = int(model_max_length)

        required = {"unk_token": unk_token, "sep_token": sep_token, "pad_token": pad_token, "cls_token": cls_token}
        for name, token in required.items():
            if token not in self.vocab:
                raise ValueError(f"{name} {token!r} is not in the vocabulary")
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
        from .weights import resolve_model_dir  # imports torch's side of the package: only when loading

        folder = resolve_model_dir(name_or_folder, holds="vocab.txt or tokenizer.json")
        config = read_json(folder / "tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
        kwargs = {}
        if (folder / "vocab.txt").is_file():
            vocab = load_vocab(folder / "vocab.txt")
            for key in ("do_lower_case", "strip_accents", "tokenize_chinese_chars"):
                if config.get(key) is not None:
                    kwargs[key] = config[key]
        elif (folder / "tokenizer.json").is_file():
            spec = read_json(folder / "tokenizer.json")
            model, normalizer = spec.get("model") or {}, spec.get("normalizer") or {}
            if model.get("type") != "WordPiece" or normalizer.get("type") != "BertNormalizer":
                raise ValueError(f"{folder / 'tokenizer.json'}: not a BERT WordPiece tokenizer "
                                 f"(model {model.get('type')!r}, normalizer {normalizer.get('type')!r})")
            vocab = model["vocab"]
            kwargs = {"do_lower_case": normalizer.get("lowercase", True), "strip_accents": normalizer.get("strip_accents"),
                      "tokenize_chinese_chars": normalizer.get("handle_chinese_chars", True)}
        else:
            raise FileNotFoundError(f"no vocab.txt or tokenizer.json in {folder}")
        if config.get("model_max_length") is not None:
            kwargs["model_max_length"] = config["model_max_length"]
        kwargs.update(special_tokens(config))
        kwargs.update(overrides)
        return cls(vocab, **kwargs)

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
            **special,
        })
        write_json(folder / "special_tokens_map.json", special)

    def __len__(self) -> int:
        return len(self.vocab)

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
        if len(word) > self.MAX_INPUT_CHARS_PER_WORD:
            return (self.unk_token_id,)
        ids = []
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
                return (self.unk_token_id,)
            ids.append(piece_id)
            start = end
        return tuple(ids)

    def _text_to_ids(self, text: str) -> list[int]:
        """Steps 1-7 of the module docstring: one text -> WordPiece ids, no [CLS]/[SEP] yet."""
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
        tokens = self.convert_ids_to_tokens(ids)
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
    ) -> BatchEncoding:
        """Encode one text or a batch (optionally paired) into ``input_ids``, ``token_type_ids``,
        ``attention_mask``.

        - ``padding``: True/"longest" pads to the longest in the batch, "max_length" to
          ``max_length``, False/"do_not_pad" not at all. Padding is on the right with ``[PAD]``,
          token type 0 and mask 0.
        - ``truncation``: True/"longest_first" cuts to ``max_length`` (default
          ``model_max_length``) counting ``[CLS]``/``[SEP]``; for pairs see ``_pair_lengths``.
          False/"do_not_truncate": a text longer than ``max_length`` is a ValueError.
        - ``return_tensors``: "pt" gives ``torch.long`` tensors of shape (B, T); None gives lists,
          unbatched for a single string.
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
            raise ValueError(
                f"truncation must be True, False, 'longest_first' or 'do_not_truncate', got {truncation!r}"
            )
        if return_tensors not in ("pt", None):
            raise ValueError(f"return_tensors must be 'pt' or None, got {return_tensors!r}")
        pad_mode, truncate = _PADDING_MODES[padding], _TRUNCATION_MODES[truncation]
        if max_length is None:
            max_length = self.model_max_length
        if not is_int(max_length):
            raise TypeError(f"max_length must be an int, got {type(max_length).__name__}")
        n_special = 2 if pairs is None else 3  # [CLS] A [SEP] (B [SEP])
        if max_length < n_special:
            raise ValueError(f"max_length={max_length} is too small: the special tokens alone need {n_special}")

        input_ids, type_ids = [], []
        for i, a in enumerate(texts):
            ids_a = self._text_to_ids(a)
            ids_b = self._text_to_ids(pairs[i]) if pairs is not None else None
            length = len(ids_a) + n_special + (len(ids_b) if ids_b is not None else 0)
            if length > max_length:
                if not truncate:
                    which = f"text[{i}]" if pairs is None else f"the pair text[{i}], text_pair[{i}]"
                    raise ValueError(
                        f"{which} is {length} tokens long, more than max_length={max_length}; "
                        "pass truncation=True to cut it"
                    )
                ids_a, ids_b = self._truncate(ids_a, ids_b, max_length - n_special)
            ids = [self.cls_token_id, *ids_a, self.sep_token_id]
            types = [0] * len(ids)
            if ids_b is not None:
                ids += [*ids_b, self.sep_token_id]
                types += [1] * (len(ids_b) + 1)
            input_ids.append(ids)
            type_ids.append(types)

        masks = [[1] * len(ids) for ids in input_ids]
        if pad_mode is not None and input_ids:
            target = max_length if pad_mode == "max_length" else max(map(len, input_ids))
            for ids, types, mask in zip(input_ids, type_ids, masks):
                n = target - len(ids)
                ids += [self.pad_token_id] * n
                types += [0] * n
                mask += [0] * n

        if return_tensors == "pt":
            if len({len(ids) for ids in input_ids}) > 1:
                raise ValueError(
                    "sequences have different lengths and padding is off, so they cannot form one "
                    "tensor; use padding=True or return_tensors=None"
                )
            shape = (len(input_ids), len(input_ids[0]) if input_ids else 0)  # (B, T), also for B = 0
            return BatchEncoding(
                input_ids=torch.tensor(input_ids, dtype=torch.long).reshape(shape),
                token_type_ids=torch.tensor(type_ids, dtype=torch.long).reshape(shape),
                attention_mask=torch.tensor(masks, dtype=torch.long).reshape(shape),
            )
        if not batched:
            return BatchEncoding(input_ids=input_ids[0], token_type_ids=type_ids[0], attention_mask=masks[0])
        return BatchEncoding(input_ids=input_ids, token_type_ids=type_ids, attention_mask=masks)

    def _truncate(self, ids_a: list[int], ids_b: list[int] | None, budget: int):
        if not self._warned_truncation:
            self._warned_truncation = True
            warnings.warn(
                f"an input longer than the limit was truncated to {budget} tokens of text "
                "(this warning is shown once per tokenizer)",
                stacklevel=3,
            )
        if ids_b is None:
            return ids_a[:budget], None
        keep_a, keep_b = _pair_lengths(len(ids_a), len(ids_b), budget)
        return ids_a[:keep_a], ids_b[:keep_b]


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
