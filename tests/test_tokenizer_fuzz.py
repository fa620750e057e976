"""Fuzzing minisbert's tokenizer against transformers' BertTokenizer (Rust) on random Unicode.

10,000 Hypothesis examples (5,000 batches of single texts, 3,000 of pairs truncated to a random
max_length, 2,000 under other options), about 20,000 texts, weighted towards what tokenizers get
wrong: combining marks, punctuation, CJK (across the U+2B820 boundary), control and format
characters, odd whitespace, emoji, tricky case mappings, unassigned and private-use code points,
special tokens typed in the text, words near the 100-character limit. Ids, token types and
attention masks must be identical.

The one difference left by design is the Unicode version (see minisbert/tokenizer.py): Rust's
character classes are Unicode 8.0, ours are Python's. ``unicode_skew`` finds, over every assigned
code point, the characters where this shows; ``test_unicode_skew`` checks that each is explained:
absent from Unicode 3.2 (the oldest table Python ships; a character new to Rust's 8.0 tables must
be), or one of five hand-listed characters whose category changed since. In the fuzz tests each
such character is replaced by what Rust takes it for (an unknown letter, a punctuation mark, or
nothing) before our tokenizer sees it, so the difference is asserted, not hidden.
"""

from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minisbert.tokenizer import BertTokenizer, _is_cjk, basic_tokenize
from test_tokenizer import hf, ours  # noqa: F401  (the fixtures: ours and transformers' on the real vocabulary)

pytestmark = pytest.mark.filterwarnings("ignore:an input longer than the limit")

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# --------------------------------------------------------------------------------------------------
# The Unicode-version skew
# --------------------------------------------------------------------------------------------------

UNKNOWN_LETTER = "\u0378"  # unassigned everywhere: an ordinary letter to both, not in the vocabulary
UNKNOWN_PUNCTUATION = "\u2e2e"  # REVERSED QUESTION MARK (Po since Unicode 5.1), not in the vocabulary

# Characters whose category changed since Unicode 8.0, with what Rust's tables still say.
RUST_OLD_CATEGORY = {
    0x166D: UNKNOWN_PUNCTUATION,  # CANADIAN SYLLABICS CHI SIGN: Po in 8.0, So now
    0x111C9: UNKNOWN_PUNCTUATION,  # SHARADA SANDHI MARK: Po in 8.0, Mn now
    0x1734: "",  # HANUNOO SIGN PAMUDPOD: Mn in 8.0 (stripped as an accent), Mc now
    0x1885: UNKNOWN_LETTER,  # MONGOLIAN LETTER ALI GALI BALUDA: Lo in 8.0, Mn now
    0x1886: UNKNOWN_LETTER,  # MONGOLIAN LETTER ALI GALI THREE BALUDA: Lo in 8.0, Mn now
}


def as_rust_sees_it(text: str, skew: dict[int, str]) -> str:
    return text.translate(skew) if skew and any(ord(c) in skew for c in text) else text


def _contexts(char: str) -> str:
    # Inside a word, and next to its own upper case (which reaches the lower-casing step).
    return f"a{char}b {char}{char.upper()}"


@pytest.fixture(scope="module")
def unicode_skew(ours, hf) -> dict[int, str]:
    """Every assigned code point (CJK ideographs and Hangul syllables aside: letters under a fixed
    range rule) on which the two tokenizers disagree -> what Rust takes it for, as a translate table.
    """
    chars = [
        chr(cp)
        for cp in range(0x110000)
        if unicodedata.category(chr(cp)) not in ("Cn", "Co", "Cs") and not _is_cjk(cp) and not 0xAC00 <= cp <= 0xD7A3
    ]
    texts = [_contexts(c) for c in chars]
    got = ours(texts, padding=False, return_tensors=None)["input_ids"]
    want = hf(texts)["input_ids"]
    return {ord(c): RUST_OLD_CATEGORY.get(ord(c), UNKNOWN_LETTER) for c, a, b in zip(chars, got, want) if a != b}


def test_unicode_skew(ours, hf, unicode_skew):
    skew = unicode_skew
    # 503 code points on Python 3.11 (Unicode 14.0); newer Pythons know more characters.
    assert 400 <= len(skew) <= 1500, len(skew)
    for example in (0x08CA, 0x2E43, 0x0890, 0x07FD, 0x1E944):  # new Mn, Po, Cf, Mn, Mn since 8.0
        assert example in skew
    for cp in skew:
        char = chr(cp)
        assert unicodedata.category(char)[0] in "MPCS", hex(cp)
        assert cp in RUST_OLD_CATEGORY or unicodedata.ucd_3_2_0.category(char) == "Cn", hex(cp)
    # Each difference is exactly "Rust reads this character with its old category".
    chars = [chr(cp) for cp in skew]
    transformed = [as_rust_sees_it(_contexts(c), skew) for c in chars]
    assert ours(transformed, padding=False, return_tensors=None)["input_ids"] == hf([_contexts(c) for c in chars])["input_ids"]


def test_unicode_16_lowercase():
    """Rust's standard library lower-cases letters of Unicode 16 that Python 3.11 does not know."""
    from tokenizers import normalizers

    rust = normalizers.BertNormalizer(lowercase=True, strip_accents=False)
    assert rust.normalize_str("\ua7cb") == "\u0264"  # LATIN CAPITAL LETTER RAMS HORN -> ɤ
    assert basic_tokenize("\ua7cb") == ["\ua7cb".lower()]  # ours: whatever this Python knows


# --------------------------------------------------------------------------------------------------
# Random texts
# --------------------------------------------------------------------------------------------------
#
# Hypothesis draws a seeded random generator per example (st.randoms) and the text is built from it:
# drawing each character through Hypothesis costs milliseconds per example and made this file take
# minutes, while the tokenizers take microseconds. A text is a few runs, each from one character
# class chosen by weight. What is lost is Hypothesis's shrinking, so ``assert_parity`` shrinks a
# failing text itself (``smallest_failing``).

_BY_CATEGORY: dict[str, list[str]] = {}
for _cp in [*range(0x20000), *range(0xE0000, 0xE01F0)]:  # planes 0 and 1, tags and variation selectors
    _BY_CATEGORY.setdefault(unicodedata.category(chr(_cp)), []).append(chr(_cp))


def _chars(*categories: str) -> list[str]:
    return [c for category in categories for c in _BY_CATEGORY.get(category, [])]


def _ranges(*ranges: tuple[int, int], step: int = 1) -> list[str]:
    return [chr(cp) for lo, hi in ranges for cp in range(lo, hi + 1, step)]


CLASSES = {  # name: (members, weight)
    "ascii": (_ranges((0x20, 0x7E)), 50),
    "ascii punctuation": (list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"), 15),
    # Case mappings with a catch: final sigma, İ -> i + U+0307, ligatures, title case, Kelvin sign.
    "case traps": (list("\u03a3\u0130\u0131\u1e9e\ufb01\u01c4\u01c5\u0390\u2126\u212a\u212b"), 6),
    "latin, greek, cyrillic": (_ranges((0xC0, 0x4FF)), 20),
    "letters": (_chars("Lu", "Ll", "Lt", "Lm", "Lo")[::7], 15),
    "combining marks": (_chars("Mn", "Mc", "Me"), 30),
    "punctuation": (_chars("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"), 20),
    "symbols and numbers": (_chars("Sm", "Sc", "Sk", "So", "Nd", "Nl", "No"), 12),
    "cjk": (  # kana are not CJK; U+2B800..U+2B93F spans the boundary where HF's two tokenizers differ
        _ranges((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF), (0x2F800, 0x2FA1F),
                (0x3040, 0x30FF), step=37) + _ranges((0x2B800, 0x2B93F)),
        20,
    ),
    "control and format": (_chars("Cc", "Cf") + ["\x00", "\ufffd", "\u200b", "\u200d", "\ufeff"] * 8, 16),
    "whitespace": (_chars("Zs", "Zl", "Zp") + list(" \t\n\r\x0b\x0c\x1c\x1f\x85") * 2, 20),
    "emoji": (_ranges((0x1F300, 0x1FAFF)) + ["\u2764", "\ufe0f", "\u200d"] * 20, 10),
    # A fixed few: some unassigned code points are lower-cased by Rust (see test_unicode_16_lowercase).
    "unassigned and private use": (list("\u0378\u0379\u05ff\u0e00\U0002fffd\ue000\U000f0000"), 5),
    "special tokens": (["[MASK]", "[SEP]", "[CLS]", "[PAD]", "[UNK]", "[mask]", "[MASK", "MASK]"], 10),
}
_NAMES = list(CLASSES)
_WEIGHTS = [weight for _, weight in CLASSES.values()]
# Long words must spell out in the vocabulary (every letter and ##letter is in it), else they are
# [UNK] either side of the 100-character limit and the limit goes untested. Accents are stripped
# before the count, so raw lengths of 90-130 land on both sides of it.
_WORD_CHARS = _ranges((0x61, 0x7A), (0x41, 0x5A), (0x30, 0x39)) * 3 + _ranges((0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x17F))
_ACCENTS = _ranges((0x300, 0x36F))


def random_text(rng: random.Random) -> str:
    if rng.random() < 0.1:  # one long word, around the 100-character limit
        n = rng.randint(90, 130)
        return "".join(rng.choice(_ACCENTS if rng.random() < 0.1 else _WORD_CHARS) for _ in range(n))
    out = []
    for name in rng.choices(_NAMES, _WEIGHTS, k=rng.randint(0, 8)):
        members = CLASSES[name][0]
        out.extend(rng.choice(members) for _ in range(1 if name == "special tokens" else rng.randint(1, 6)))
    return "".join(out)


def random_texts(rng: random.Random) -> list[str]:
    return [random_text(rng) for _ in range(rng.randint(1, 3))]


TEXTS = st.randoms(use_true_random=True).map(random_texts)


def smallest_failing(text: str, fails) -> str:
    """Greedy delta debugging: drop ever smaller chunks of ``text`` while ``fails`` still holds."""
    chunk = max(1, len(text) // 2)
    while True:
        i = 0
        while i < len(text):
            shorter = text[:i] + text[i + chunk :]
            if fails(shorter):
                text = shorter
            else:
                i += chunk
        if chunk == 1:
            return text
        chunk //= 2


def assert_parity(ours, hf, skew, texts, pairs=None, **kwargs):
    def encode_both(texts, pairs):
        seen = [as_rust_sees_it(t, skew) for t in texts]
        seen_pairs = [as_rust_sees_it(t, skew) for t in pairs] if pairs is not None else None
        got = ours(seen, seen_pairs, padding=False, return_tensors=None, **kwargs)
        want = hf(texts, pairs, truncation=True, **kwargs)
        return [got[k] for k in ("input_ids", "token_type_ids", "attention_mask")], [
            want[k] for k in ("input_ids", "token_type_ids", "attention_mask")
        ]

    got, want = encode_both(texts, pairs)
    if got != want:
        for text in texts + (pairs or []):
            fails = lambda t: (lambda g, w: g != w)(*encode_both([t], None))  # noqa: E731
            if fails(text):
                pytest.fail(f"tokenizers differ on {smallest_failing(text, fails)!r} (from {text!r})")
        pytest.fail(f"tokenizers differ on texts={texts!r} pairs={pairs!r} {kwargs}: {got} != {want}")


# --------------------------------------------------------------------------------------------------
# Fuzz tests: 5,000 + 3,000 + 2,000 = 10,000 examples
# --------------------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=5_000)
@given(texts=TEXTS)
def test_fuzz_single(ours, hf, unicode_skew, texts):
    assert_parity(ours, hf, unicode_skew, texts)


@settings(FUZZ, max_examples=3_000)
@given(rng=st.randoms(use_true_random=True), max_length=st.integers(3, 40))
def test_fuzz_pairs(ours, hf, unicode_skew, rng, max_length):
    texts = random_texts(rng)
    pairs = [random_text(rng) for _ in texts]
    assert_parity(ours, hf, unicode_skew, texts, pairs, max_length=max_length)


OPTIONS = [
    {"do_lower_case": False},
    {"strip_accents": False},
    {"do_lower_case": False, "strip_accents": True},
    {"tokenize_chinese_chars": False},
]


@pytest.fixture(scope="module")
def option_pairs(model_dir):
    from transformers import BertTokenizer as HFBertTokenizer

    return [
        (BertTokenizer.from_pretrained(model_dir, **o), HFBertTokenizer.from_pretrained(model_dir, **o)) for o in OPTIONS
    ]


@settings(FUZZ, max_examples=2_000)
@given(which=st.integers(0, len(OPTIONS) - 1), texts=TEXTS)
def test_fuzz_options(option_pairs, unicode_skew, which, texts):
    ours, hf = option_pairs[which]
    skew = unicode_skew
    if not ours.strip_accents:
        # Nothing is stripped as a mark, so Rust's old "Mn" for U+1734 makes no difference here.
        skew = {cp: v for cp, v in skew.items() if v != ""}
    assert_parity(ours, hf, skew, texts)
