"""Tests for minisbert.tokenizer.

Two halves, in the style of google-research/bert's tokenization_test.py:

1. A tiny hand-made vocabulary and hand-derived expectations (WordPiece, basic tokenization,
   accents, punctuation, CJK, pairs, truncation, padding, errors).
2. Parity with transformers' ``BertTokenizer`` (5.x, backed by the Rust ``tokenizers``) loaded from
   the same real folder: every sentence of STS Benchmark and SICK, every STSb pair, and an edge-case
   list. Where HF's Rust and Python tokenizers differ (see the module docstring of
   minisbert/tokenizer.py), we assert ours equals Rust and that the Python legacy one really differs.

Unicode-wide fuzzing, and the Unicode-version skew, are in test_tokenizer_fuzz.py.
"""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from minisbert.tokenizer import BatchEncoding, BertTokenizer, _pair_lengths, basic_tokenize

pytestmark = [pytest.mark.fast, pytest.mark.filterwarnings("ignore:an input longer than the limit")]

# --------------------------------------------------------------------------------------------------
# 1. Tiny vocabulary, hand-derived expectations
# --------------------------------------------------------------------------------------------------

TINY_TOKENS = "[PAD] [UNK] [CLS] [SEP] [MASK] want ##want ##ed wa un runn ##ing , low lowest".split()
TINY = {token: i for i, token in enumerate(TINY_TOKENS)}
PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4


@pytest.fixture
def tiny():
    return BertTokenizer(TINY)


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("", []),
        ("unwanted running", ["un", "##want", "##ed", "runn", "##ing"]),
        ("UNwant\u00e9d,running", ["un", "##want", "##ed", ",", "runn", "##ing"]),
        ("unwantedX running", ["[UNK]", "runn", "##ing"]),  # one unmatched part: the whole word
        ("wanted", ["want", "##ed"]),
        ("lowest", ["lowest"]),  # longest match first, not low + ##est
        ("lowe", ["[UNK]"]),  # "low" matches, "##e" does not
        ("wawant", ["wa", "##want"]),
        ("want,want", ["want", ",", "want"]),
        ("want" * 25, ["want"] + ["##want"] * 24),  # exactly 100 characters
        ("want" * 25 + "x", ["[UNK]"]),  # 101 characters
        ("wa\u0301nt" * 25, ["want"] + ["##want"] * 24),  # 125 code points, 100 once accents go
        ("wa\u0301nt" * 26, ["[UNK]"]),  # 104 once accents go
    ],
)
def test_wordpiece(tiny, text, tokens):
    assert tiny.tokenize(text) == tokens
    assert tiny.convert_tokens_to_ids(tokens) == [TINY[t] for t in tokens]


@pytest.mark.parametrize(
    "text, kwargs, words",
    [
        (" \tHeLLo!how  \n Are yoU?  ", {}, ["hello", "!", "how", "are", "you", "?"]),
        ("H\u00e9llo H\u00e4LLo", {}, ["hello", "hallo"]),
        ("He\u0301llo", {}, ["hello"]),  # decomposed accent, stripped the same way
        (" \tHeLLo!how  \n Are yoU?  ", {"do_lower_case": False}, ["HeLLo", "!", "how", "Are", "yoU", "?"]),
        ("H\u00e4LLo!", {"do_lower_case": False, "strip_accents": True}, ["HaLLo", "!"]),
        ("H\u00e4LLo!", {"do_lower_case": True, "strip_accents": False}, ["h\u00e4llo", "!"]),
        ("H\u00e4LLo!", {"do_lower_case": False}, ["H\u00e4LLo", "!"]),  # strip follows lower-case
        ("\u0130stanbul", {}, ["istanbul"]),  # İ: NFD gives I + U+0307, the dot is dropped
        ("ah\u535a\u63a8zz", {}, ["ah", "\u535a", "\u63a8", "zz"]),
        ("ah\u535a\u63a8zz", {"tokenize_chinese_chars": False}, ["ah\u535a\u63a8zz"]),
        ("\ud55c\uad6d\uc5b4", {"strip_accents": False}, ["\ud55c\uad6d\uc5b4"]),  # Hangul: no CJK split
        # NFD spells each Hangul syllable in conjoining jamo (letters, Lo), none of them dropped.
        ("\ud55c\uad6d\uc5b4", {}, ["\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165"]),
        # Rust's CJK ranges skip U+2B820..U+2B91F: those stay one word.
        ("\U0002b81f\U0002b820\U0002b91f\U0002b920", {}, ["\U0002b81f", "\U0002b820\U0002b91f", "\U0002b920"]),
        ("a$b^c\u20acd\u00a3e\u00b0f", {}, ["a", "$", "b", "^", "c\u20acd\u00a3e\u00b0f"]),
        ("a`b|c~d", {}, ["a", "`", "b", "|", "c", "~", "d"]),
        ("\u00bfQu\u00e9? \u00a1S\u00ed!", {}, ["\u00bf", "que", "?", "\u00a1", "si", "!"]),
        ("a\u2013b\u2014c", {}, ["a", "\u2013", "b", "\u2014", "c"]),  # dashes are Pd
        ("\u00abx\u00bb", {}, ["\u00ab", "x", "\u00bb"]),
        ("a\x00b\ufffdc\x07d\x1be", {}, ["abcde"]),  # NUL, U+FFFD and controls vanish
        ("a\u200bb\u200dc\ufeffd", {}, ["abcd"]),  # format characters (Cf) vanish
        ("a\x0bb\x0cc\x85d", {}, ["abcd"]),  # VT, FF, NEL are controls here, not spaces
        ("a\tb\nc\rd", {}, ["a", "b", "c", "d"]),
        ("a\u00a0b\u2009c\u3000d", {}, ["a", "b", "c", "d"]),  # Zs
        ("a\u2028b\u2029c", {}, ["a", "b", "c"]),  # line/paragraph separators
        ("a\u0378b", {}, ["a\u0378b"]),  # unassigned: kept, as in Rust
        ("a\ue000b", {}, ["ab"]),  # private use (Co): dropped
        ("\u039f\u0394\u039f\u03a3", {}, ["\u03bf\u03b4\u03bf\u03c3"]),  # no final sigma
        ("a\u1fefb", {}, ["a", "`", "b"]),  # GREEK VARIA decomposes to a backtick, then splits
        ("", {}, []),
        ("  \n\t ", {}, []),
    ],
)
def test_basic_tokenize(text, kwargs, words):
    assert basic_tokenize(text, **kwargs) == words


def test_call_single_and_pair(tiny):
    enc = tiny("unwanted running", return_tensors=None)
    assert enc["input_ids"] == [CLS, 9, 6, 7, 10, 11, SEP]
    assert enc["token_type_ids"] == [0] * 7
    assert enc["attention_mask"] == [1] * 7
    enc = tiny("unwanted", "running", return_tensors=None)
    assert enc["input_ids"] == [CLS, 9, 6, 7, SEP, 10, 11, SEP]
    assert enc["token_type_ids"] == [0, 0, 0, 0, 0, 1, 1, 1]
    enc = tiny("", return_tensors=None)
    assert enc["input_ids"] == [CLS, SEP]
    enc = tiny("", "", return_tensors=None)
    assert enc["input_ids"] == [CLS, SEP, SEP] and enc["token_type_ids"] == [0, 0, 1]


def test_special_tokens_typed_in_text(tiny):
    assert tiny.tokenize("want [MASK] want") == ["want", "[MASK]", "want"]
    assert tiny.tokenize("want[MASK]want") == ["want", "[MASK]", "want"]
    assert tiny.tokenize("[CLS][SEP] [PAD]") == ["[CLS]", "[SEP]", "[PAD]"]
    # Case-sensitive, matched on the raw text: "[mask]" is ordinary text ("[" is not in the vocab).
    assert tiny.tokenize("[mask]") == ["[UNK]", "[UNK]", "[UNK]"]
    assert tiny.tokenize("[MA\x00SK]") == ["[UNK]", "[UNK]", "[UNK]"]  # cleaning comes after


def test_padding_modes(tiny):
    batch = ["want", "unwanted running"]
    enc = tiny(batch)
    assert enc["input_ids"].dtype == torch.long and enc["input_ids"].shape == (2, 7)
    assert enc["input_ids"][0].tolist() == [CLS, 5, SEP, PAD, PAD, PAD, PAD]
    assert enc["attention_mask"][0].tolist() == [1, 1, 1, 0, 0, 0, 0]
    assert enc["token_type_ids"].tolist() == [[0] * 7, [0] * 7]
    enc = tiny(batch, padding="max_length", max_length=9)
    assert enc["input_ids"].shape == (2, 9)
    assert enc["input_ids"][1].tolist() == [CLS, 9, 6, 7, 10, 11, SEP, PAD, PAD]
    enc = tiny(batch, padding=False, return_tensors=None)
    assert [len(ids) for ids in enc["input_ids"]] == [3, 7]
    with pytest.raises(ValueError, match="different lengths"):
        tiny(batch, padding="do_not_pad")
    assert tiny(["want", "want"], padding=False)["input_ids"].shape == (2, 3)  # equal lengths are fine
    pair = tiny(["want", "wa"], ["unwanted", "want"])
    assert pair["input_ids"].tolist() == [[CLS, 5, SEP, 9, 6, 7, SEP], [CLS, 8, SEP, 5, SEP, PAD, PAD]]
    assert pair["token_type_ids"].tolist() == [[0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 0, 0]]


def test_return_types(tiny):
    single = tiny("want")
    assert isinstance(single, BatchEncoding) and single["input_ids"].shape == (1, 3)
    assert list(single) == ["input_ids", "token_type_ids", "attention_mask"]
    assert single.input_ids is single["input_ids"]
    assert single.to("cpu")["input_ids"].tolist() == [[CLS, 5, SEP]]
    assert tiny("want", return_tensors=None)["input_ids"] == [CLS, 5, SEP]  # unbatched lists
    assert tiny(["want"], return_tensors=None)["input_ids"] == [[CLS, 5, SEP]]
    assert tiny(("want", "wa"), return_tensors=None)["input_ids"] == [[CLS, 5, SEP], [CLS, 8, SEP]]
    empty = tiny([])
    assert empty["input_ids"].shape == (0, 0) and empty["input_ids"].dtype == torch.long
    assert tiny([], return_tensors=None)["input_ids"] == []


@pytest.mark.parametrize(
    "len_a, len_b, budget, kept",
    [
        (2, 3, 7, (2, 3)),  # fits
        (3, 20, 7, (3, 4)),  # only the longer side is cut
        (20, 3, 7, (4, 3)),
        (0, 10, 4, (0, 4)),
        (4, 10, 8, (4, 4)),
        (10, 10, 6, (3, 3)),  # both cut, even budget
        (10, 10, 7, (3, 4)),  # tie, odd budget: the second side keeps the extra token
        (11, 10, 7, (4, 3)),  # the longer side keeps it
        (10, 11, 7, (3, 4)),
        (5, 5, 0, (0, 0)),
        (5, 5, 1, (0, 1)),
    ],
)
def test_pair_lengths(len_a, len_b, budget, kept):
    assert _pair_lengths(len_a, len_b, budget) == kept


def test_truncation(tiny):
    ten = " ".join(["want"] * 10)
    enc = tiny(ten, max_length=5, return_tensors=None)
    assert enc["input_ids"] == [CLS, 5, 5, 5, SEP]
    enc = tiny(ten, " ".join(["wa"] * 10), max_length=10, return_tensors=None)  # budget 7: 3 + 4
    assert enc["input_ids"] == [CLS, 5, 5, 5, SEP, 8, 8, 8, 8, SEP]
    assert enc["token_type_ids"] == [0] * 5 + [1] * 5
    # 3 + 10 into 5: both must go below half, the longer keeps ceil(5 / 2) = 3, so 2 + 3.
    enc = tiny("unwanted", ten, max_length=8, return_tensors=None)
    assert enc["input_ids"] == [CLS, 9, 6, SEP, 5, 5, 5, SEP]
    enc = tiny(ten, max_length=2, return_tensors=None)  # room for the special tokens only
    assert enc["input_ids"] == [CLS, SEP]
    # A word's pieces are cut like any tokens, and the default limit is model_max_length.
    enc = tiny("unwanted", max_length=4, return_tensors=None)
    assert enc["input_ids"] == [CLS, 9, 6, SEP]
    small = BertTokenizer(TINY, model_max_length=4)
    assert small(ten, return_tensors=None)["input_ids"] == [CLS, 5, 5, SEP]


def test_truncation_warns_once_per_instance(tiny):
    ten = " ".join(["want"] * 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiny("want", max_length=5)  # nothing cut: no warning
        assert caught == []
        tiny(ten, max_length=5)
        tiny(ten, max_length=5)
        tiny([ten, ten], [ten, ten], max_length=5)
        assert len(caught) == 1 and "truncated" in str(caught[0].message)
        BertTokenizer(TINY)(ten, max_length=5)  # a new instance warns again
        assert len(caught) == 2


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda t: t(["want", 3]), TypeError, r"text\[1\] must be str, got int"),
        (lambda t: t(["want", "wa", None]), TypeError, r"text\[2\] must be str, got NoneType"),
        (lambda t: t(["want"], [b"wa"]), TypeError, r"text_pair\[0\] must be str, got bytes"),
        (lambda t: t(5), TypeError, r"text must be a str or a list of str, got int"),
        (lambda t: t("want", ["wa"]), TypeError, r"both be str or both be lists"),
        (lambda t: t(["a", "b"], ["c"]), ValueError, r"text has 2 items but text_pair has 1"),
        (lambda t: t("want", max_length=1), ValueError, r"max_length=1 is too small"),
        (lambda t: t("want", "wa", max_length=2), ValueError, r"max_length=2 is too small"),
        (lambda t: t("want", padding="longest_first"), ValueError, r"padding must be"),
        (lambda t: t("want", truncation="only_third"), ValueError, r"truncation must be"),
        (lambda t: t("want", return_tensors="np"), ValueError, r"return_tensors must be"),
        (lambda t: t.tokenize(None), TypeError, r"text must be str"),
        (lambda t: t.convert_ids_to_tokens([999]), ValueError, r"id 999 is not in the vocabulary"),
    ],
)
def test_errors(tiny, call, error, message):
    with pytest.raises(error, match=message):
        call(tiny)


def test_no_truncation_keeps_every_id_and_warns(tiny):
    # transformers returns every id of a text over max_length when truncation is off, and warns
    with pytest.warns(UserWarning, match=r"\(5 > 4\)"):
        assert tiny("want want want", truncation=False, max_length=4, return_tensors=None)["input_ids"] == [CLS, 5, 5, 5, SEP]
    with pytest.warns(UserWarning, match=r"\(5 > 4\)"):  # [CLS] want [SEP] want [SEP]
        tiny(["", "want"], ["", "want"], truncation=False, max_length=4, return_tensors=None)


def test_no_truncation_within_limit(tiny):
    enc = tiny("want want", truncation=False, max_length=4, return_tensors=None)
    assert enc["input_ids"] == [CLS, 5, 5, SEP]


def test_vocabulary_helpers(tiny):
    assert len(tiny) == tiny.vocab_size == len(TINY_TOKENS)
    assert (tiny.pad_token_id, tiny.unk_token_id, tiny.cls_token_id, tiny.sep_token_id, tiny.mask_token_id) == (
        PAD, UNK, CLS, SEP, MASK,
    )
    assert tiny.convert_tokens_to_ids("lowest") == 14 and tiny.convert_tokens_to_ids("nope") == UNK
    assert tiny.convert_ids_to_tokens(14) == "lowest"
    assert tiny.convert_ids_to_tokens(torch.tensor([9, 6])) == ["un", "##want"]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        BertTokenizer({"[CLS]": 0, "[SEP]": 1, "[PAD]": 2})  # no [UNK]


def test_decode(tiny):
    ids = [CLS, 9, 6, 7, 12, 10, 11, SEP, PAD]
    assert tiny.decode(ids) == "[CLS] unwanted, running [SEP] [PAD]"
    assert tiny.decode(ids, skip_special_tokens=True) == "unwanted, running"
    assert tiny.decode(torch.tensor([6, 5])) == "##want want"  # a leading ## piece stays as it is
    assert tiny.decode([]) == ""


def test_from_pretrained(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(TINY_TOKENS) + "\n", encoding="utf-8")
    config = {"do_lower_case": False, "model_max_length": int(1e30), "strip_accents": None, "unk_token": "[UNK]"}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    tok = BertTokenizer.from_pretrained(tmp_path)
    assert tok.vocab == TINY
    assert tok.do_lower_case is False and tok.strip_accents is False
    assert tok.model_max_length == 512  # the "no limit" sentinel falls back to BERT's 512 positions
    assert tok.tokenize("Want") == ["[UNK]"]  # cased: "Want" is not "want"
    assert BertTokenizer.from_pretrained(tmp_path, do_lower_case=True).tokenize("Want") == ["want"]
    with pytest.raises(FileNotFoundError, match="vocab.txt"):
        BertTokenizer.from_pretrained(tmp_path / "missing")


def test_tiny_vocab_agrees_with_reference(tiny):
    """The hand-derived vocabulary also goes through HF's Rust tokenizer (a check on the checks)."""
    from transformers import BertTokenizer as HFBertTokenizer

    hf = HFBertTokenizer(vocab=dict(TINY))
    texts = ["unwanted running", "UNwant\u00e9d,running", "unwantedX running", "want [MASK] want", "lowe lowest", ""]
    assert tiny(texts)["input_ids"].tolist() == hf(texts, padding=True)["input_ids"]


# --------------------------------------------------------------------------------------------------
# 2. Parity with transformers' BertTokenizer (Rust) on the real vocabulary
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ours(model_dir):
    return BertTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def hf(model_dir):
    from transformers import BertTokenizer as HFBertTokenizer

    return HFBertTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def legacy(model_dir):
    """HF's pure-Python BERT tokenizer, kept to show each Rust/Python difference is real."""
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    return BertTokenizerLegacy.from_pretrained(model_dir)


def read_stsb(data_dir) -> list[tuple[str, str]]:
    pairs = []
    for split in ("train", "dev", "test"):
        with open(data_dir / "stsbenchmark" / f"sts-{split}.csv", encoding="utf-8") as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")[:7]  # genre file year id score s1 s2 [sources]
                pairs.append((fields[5], fields[6]))
    return pairs


def read_sick(data_dir) -> list[tuple[str, str]]:
    pairs = []
    for split in ("train", "trial", "test_annotated"):
        with open(data_dir / "sick" / f"SICK_{split}.txt", encoding="utf-8") as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")  # pair_ID s_A s_B score label
                pairs.append((fields[1], fields[2]))
    return pairs


def assert_same(ours_enc, hf_enc):
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        a, b = ours_enc[key], hf_enc[key]
        if torch.is_tensor(a):
            assert torch.equal(a, b), key
        else:
            assert a == b, key


@pytest.mark.slow  # whole data sets: out of the fast lane
def test_every_sentence_of_stsb_and_sick(ours, hf, data_dir):
    stsb, sick = read_stsb(data_dir), read_sick(data_dir)
    assert len(stsb) == 8628 and len(sick) == 9927  # all splits of both
    sentences = [s for pair in stsb + sick for s in pair]
    for i in range(0, len(sentences), 512):
        batch = sentences[i : i + 512]
        assert_same(ours(batch), hf(batch, padding=True, truncation=True, return_tensors="pt"))


@pytest.mark.slow
def test_every_stsb_pair(ours, hf, data_dir):
    stsb = read_stsb(data_dir)
    for i in range(0, len(stsb), 512):
        a, b = zip(*stsb[i : i + 512])
        assert_same(ours(list(a), list(b)), hf(list(a), list(b), padding=True, truncation=True, return_tensors="pt"))


EDGE_CASES = [
    "", " ", "   \t\n ", "\u3000",
    "Hello, World!", "na\u00efve caf\u00e9 r\u00e9sum\u00e9", "\u00c5ngstr\u00f6m \u00c5NGSTR\u00d6M \u212b",
    "\u0130stanbul \u0131i", "Stra\u00dfe STRASSE", "\ufb01nance \ufb00", "\u01c4 \u01c5 \u01c6", "\u0390 \u1e9e",
    "Combining: a\u0301\u0302\u0303 o\u0308 e\u0301", "Z\u0351\u0352a\u0353l\u0354g\u0355o",
    "\u6771\u4eac\u306f\u65e5\u672c\u306e\u9996\u90fd\u3067\u3059\u3002", "\u5317\u4eac\u6b22\u8fce\u4f60",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8", "\u30ab\u30bf\u30ab\u30ca \u3072\u3089\u304c\u306a",
    "\u4e2d\u6587English\u6df7\u5408", "\uf900\ufa0e \U0002f800",
    "\U0002b81f\U0002b820\U0002b91f\U0002b920",  # the CJK boundary where Rust and Python differ
    "\U0001f600 emoji \U0001f44d\U0001f3fd family \U0001f468\u200d\U0001f469\u200d\U0001f467 \u2764\ufe0f",
    "a\u200bb", "zero\u200dwidth\u200cjoiner", "\ufeffBOM at start", "bad\ufffdchar", "nul\x00char",
    "bell\x07 esc\x1b del\x7f", "tab\tnewline\ncr\r\nend", "vt\x0bff\x0c", "nel\x85next", "ls\u2028ps\u2029",
    "nbsp\u00a0thin\u2009ideographic\u3000space", "\u00ad soft\u00adhyphen",
    "x" * 100, "x" * 101, "supercalifragilisticexpialidocious" * 3, "\u00e9" * 100, "\u00e9" * 101,
    "e\u0301" * 60, "a" + "." * 150,
    "[MASK]", "The [MASK] sat on the mat.", "[CLS] [SEP] [PAD] [UNK]", "a[MASK]b", "[mask] is lower",
    "[MASK][MASK]", "[[SEP]]", "[MAS[MASK]K]", "[MA\x00SK]",
    "\u039f\u0394\u039f\u03a3", "\u03a3", "\u03a3\u0391\u03a3. \u0391\u03a3\u03a3\u039f\u03a3",
    "a\u0378b", "\u0378", "\U000e0001tag\U000e007f", "\ue000private\U000f0000",
    "$5.00 ^caret^ \u20ac10 \u00a33 30\u00b0C", "\u00abquotes\u00bb \u201elow\u201c \u2018single\u2019",
    "\u00bfQu\u00e9? \u00a1S\u00ed!", "em\u2014dash en\u2013dash", "a_b a-b a.b a/b a\\b",
    "don't can't won't I'm you're it's", "U.S.A. e.g. i.e.", "@user #hashtag http://example.com/p?q=1&r=2",
    "123,456.78 3.14159 1/2 \u00bd", "\u1fef", "a\u037eb", "\u2126 \u212a \u2160\u2161",
    "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u05e9\u05dc\u05d5\u05dd", "\u0928\u092e\u0938\u094d\u0924\u0947", "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1",
    "Mixed CASE WiTh NuMbErS 123abc",
]


@pytest.mark.parametrize("text", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_edge_case(ours, hf, text):
    assert_same(ours(text, return_tensors=None), hf(text, truncation=True))


@pytest.mark.parametrize("max_length", [3, 4, 5, 16, 24, 25])
def test_edge_case_pairs_truncated(ours, hf, data_dir, max_length):
    stsb = read_stsb(data_dir)[:40]
    a = [p[0] for p in stsb] + EDGE_CASES
    b = [p[1] for p in stsb] + EDGE_CASES[::-1]
    for first, second in ((a, b), (b, a)):
        want = hf(first, second, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        assert_same(ours(first, second, max_length=max_length), want)
    want = hf(a, padding="max_length", truncation=True, max_length=max_length, return_tensors="pt")
    assert_same(ours(a, padding="max_length", max_length=max_length), want)


def test_512_tokens(ours, hf, data_dir):
    sentences = [s for pair in read_stsb(data_dir)[:400] for s in pair]
    long_text = " ".join(sentences)  # thousands of tokens
    exact = " ".join(["word"] * 510)  # [CLS] + 510 + [SEP] = 512: fits exactly
    texts = [long_text, exact, "short", long_text[:3000]]
    got = ours(texts)
    assert got["input_ids"].shape == (4, 512)
    assert_same(got, hf(texts, padding=True, truncation=True, return_tensors="pt"))
    assert_same(ours(long_text, long_text[::-1]), hf(long_text, long_text[::-1], truncation=True, return_tensors="pt"))
    assert_same(ours(exact, truncation=False), hf(exact, return_tensors="pt"))
    with pytest.warns(UserWarning, match=r"\(513 > 512\)"):
        assert ours(exact + " word", truncation=False)["input_ids"].shape == (1, 513)


@pytest.mark.parametrize(
    "options",
    [
        {"do_lower_case": False},
        {"strip_accents": False},
        {"do_lower_case": False, "strip_accents": True},
        {"tokenize_chinese_chars": False},
    ],
    ids=str,
)
def test_options_match_reference(model_dir, data_dir, options):
    from transformers import BertTokenizer as HFBertTokenizer

    ours = BertTokenizer.from_pretrained(model_dir, **options)
    hf = HFBertTokenizer.from_pretrained(model_dir, **options)
    texts = EDGE_CASES + [s for pair in read_stsb(data_dir)[:200] for s in pair]
    assert_same(ours(texts), hf(texts, padding=True, truncation=True, return_tensors="pt"))


def test_decode_matches_reference(ours, hf, data_dir):
    texts = [s for pair in read_stsb(data_dir)[::50] for s in pair] + EDGE_CASES
    enc = ours(texts, padding=True)["input_ids"]  # with [PAD]s, to exercise skipping
    for ids in enc.tolist():
        assert ours.decode(ids) == hf.decode(ids)
        assert ours.decode(ids, skip_special_tokens=True) == hf.decode(ids, skip_special_tokens=True)
    assert ours.decode(list(range(0, 30522, 7))) == hf.decode(list(range(0, 30522, 7)))  # every 7th piece


# The documented Rust/Python differences: ours equals Rust, and the Python tokenizer really differs.


def _ids(tok, *args, **kwargs):
    out = tok(*args, **kwargs)["input_ids"]
    return out.tolist()[0] if torch.is_tensor(out) else list(out)


@pytest.mark.parametrize(
    "text, rust_tokens",
    [
        # CJK: U+2B820..U+2B91F are letters to Rust, so the two form one (unknown) word.
        ("\U0002b820\U0002b821", ["[CLS]", "[UNK]", "[SEP]"]),
        # Final sigma: Rust lower-cases each character, so the last Σ becomes σ, not ς.
        ("\u039f\u0394\u039f\u03a3", ["[CLS]", "\u03bf", "##\u03b4", "##\u03bf", "##\u03c3", "[SEP]"]),
        # Unassigned code points stay in their word (Python's BERT drops every C* character).
        ("a\u0378b", ["[CLS]", "[UNK]", "[SEP]"]),
    ],
)
def test_rust_python_differences(ours, hf, legacy, text, rust_tokens):
    assert hf.convert_ids_to_tokens(_ids(hf, text)) == rust_tokens  # the reference, as derived by hand
    assert ours.convert_ids_to_tokens(_ids(ours, text)) == rust_tokens
    assert legacy.convert_ids_to_tokens(_ids(legacy, text)) != rust_tokens


def test_rust_python_difference_nfc(model_dir):
    """Accents kept: Python NFC-composes U+037E GREEK QUESTION MARK into ";", Rust leaves it."""
    from transformers import BertTokenizer as HFBertTokenizer
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    ours = BertTokenizer.from_pretrained(model_dir, strip_accents=False)
    hf = HFBertTokenizer.from_pretrained(model_dir, strip_accents=False)
    legacy = BertTokenizerLegacy.from_pretrained(model_dir, strip_accents=False)
    text = "a\u037eb"
    rust = ["[CLS]", "a", "[UNK]", "b", "[SEP]"]  # U+037E is punctuation (Po) but not in the vocab
    assert hf.convert_ids_to_tokens(_ids(hf, text)) == rust
    assert ours.convert_ids_to_tokens(_ids(ours, text)) == rust
    assert legacy.convert_ids_to_tokens(_ids(legacy, text)) == ["[CLS]", "a", ";", "b", "[SEP]"]


def test_rust_python_difference_pair_truncation(ours, hf, legacy):
    a, b = " ".join(["a"] * 10), " ".join(["b"] * 10)  # 10 + 10 tokens into a budget of 7
    rust = [101] + [1037] * 3 + [102] + [1038] * 4 + [102]
    assert _ids(hf, a, b, truncation=True, max_length=10) == rust
    assert _ids(ours, a, b, max_length=10) == rust
    assert _ids(legacy, a, b, truncation=True, max_length=10) == [101] + [1037] * 4 + [102] + [1038] * 3 + [102]


def test_rust_python_difference_decode(ours, hf, legacy):
    ids = _ids(hf, "It's John's.")
    assert hf.decode(ids) == ours.decode(ids) == "[CLS] it ' s john ' s. [SEP]"
    assert legacy.decode(ids) == "[CLS] it's john's. [SEP]"
