"""The HTML views' numbers: the JSON a page carries against the model's tensors and transformers' attentions.

Every page holds ``attention[layer][head][query][key]`` (and q, k for the neuron view) in thousandths; the
bar is 5e-4, the rounding. Bad inputs, truncation past the position table, escaping and the command line
are here too; the drawing itself, and the large pages' sizes and opening times, are tested in a real
browser in tests/test_browser.py.
"""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
import torch.nn.functional as F
import transformers

from minisbert import BertModel, SentenceBert, views
from minisbert.__main__ import main
from minisbert.tokenizer import load_tokenizer

pytestmark = pytest.mark.fast
ROUNDING = 5e-4  # the page keeps 3 decimals
PARITY = 1e-5  # minisbert against transformers before rounding (tests/test_bert.py): a value a hair from a
               # rounding boundary may round the other way, so the reference gets ROUNDING + PARITY

SENTENCE = "The animal didn't cross the street because it was too tired."
OTHER = "It was a tired animal."


@pytest.fixture(scope="module")
def tiny(model_dir, tmp_path_factory):
    """A small random BERT with the real vocabulary, saved by transformers and loaded by minisbert (both eval)."""
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                                  intermediate_size=37, max_position_embeddings=64)
    folder = tmp_path_factory.mktemp("tiny_views")
    transformers.BertModel(cfg).save_pretrained(folder)
    hf = transformers.BertModel.from_pretrained(str(folder), attn_implementation="eager").eval()  # returns attentions
    return BertModel.from_pretrained(folder), hf, load_tokenizer(model_dir)


def page_data(view: views.View | str) -> dict:
    """The JSON exactly as the page (a View or its HTML) carries it, read back from the HTML."""
    html = view if isinstance(view, str) else view.html
    found = re.search(r'<script type="application/json" id="minisbert-data">(.*?)</script>', html, re.S)
    assert found, "no minisbert-data script in the page"
    return json.loads(found.group(1))


def from_page(data: dict, key: str) -> torch.Tensor:
    return torch.tensor(data[key], dtype=torch.float64) / data["scale"]


def reference_attentions(hf, tok, text, pair=None) -> torch.Tensor:
    enc = tok([text], None if pair is None else [pair], return_tensors="pt")
    with torch.no_grad():
        out = hf(**enc, output_attentions=True)
    return torch.stack([a[0] for a in out.attentions]).double()  # (L, nh, T, T)


def check_against_model(bert, tok, data, text, pair=None):
    """attention, q and k of the page against the model's own forward, q and k recomputed from the hidden
    states with the layer's weights (not through the hooks the page uses)."""
    enc = tok([text], None if pair is None else [pair], return_tensors="pt")
    with torch.no_grad():
        out = bert(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"],
                   output_hidden_states=True, output_attentions=True)
    assert data["tokens"] == tok.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    assert data["segments"] == enc["token_type_ids"][0].tolist()
    torch.testing.assert_close(from_page(data, "attention"), torch.stack([a[0] for a in out.attentions]).double(),
                               atol=ROUNDING, rtol=0)
    cfg = bert.config
    T = enc["input_ids"].shape[1]
    for l, layer in enumerate(bert.encoder.layer):
        att, h = layer.attention.self, out.hidden_states[l][0]  # the layer's input (T, H)
        for key, linear in (("q", att.query), ("k", att.key)):
            want = F.linear(h, linear.weight, linear.bias).view(T, cfg.num_attention_heads, cfg.head_size)  # (T, nh, hs)
            torch.testing.assert_close(from_page(data, key)[l], want.transpose(0, 1).double(), atol=ROUNDING, rtol=0)


@pytest.mark.parametrize("pair", [None, OTHER], ids=["sentence", "pair"])
def test_tiny_page_matches_model_and_transformers(tiny, pair):
    bert, hf, tok = tiny
    data = page_data(views.neuron_view(bert, SENTENCE, pair, tokenizer=tok))
    L, A = bert.config.num_hidden_layers, bert.config.num_attention_heads
    assert (data["layers"], data["heads"]) == (L, A)
    check_against_model(bert, tok, data, SENTENCE, pair)
    torch.testing.assert_close(from_page(data, "attention"), reference_attentions(hf, tok, SENTENCE, pair),
                               atol=ROUNDING + PARITY, rtol=0)


def test_neuron_numbers_give_the_attention_back(tiny):
    """What the neuron view computes in the page, softmax(q·k / √d) from the page's own q and k, is the
    model's attention up to the rounding of q and k."""
    bert, _, tok = tiny
    data = page_data(views.neuron_view(bert, SENTENCE, tokenizer=tok))
    q, k = from_page(data, "q"), from_page(data, "k")  # (L, nh, T, hs)
    recomputed = (q @ k.transpose(-2, -1) / math.sqrt(data["head_size"])).softmax(-1)
    torch.testing.assert_close(recomputed, from_page(data, "attention"), atol=5e-3, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("pair", [None, OTHER], ids=["sentence", "pair"])
def test_real_page_matches_model_and_transformers(real_sbert, hf_bert, pair):
    data = page_data(views.neuron_view(real_sbert, SENTENCE, pair))
    check_against_model(real_sbert.bert, real_sbert.tokenizer, data, SENTENCE, pair)
    torch.testing.assert_close(from_page(data, "attention"), reference_attentions(hf_bert, real_sbert.tokenizer, SENTENCE, pair),
                               atol=ROUNDING + PARITY, rtol=0)


def test_pair_view_carries_both_sentences_alone(tiny):
    bert, _, tok = tiny
    data = page_data(views.pair_view(bert, SENTENCE, OTHER, tokenizer=tok))
    assert data["panels"] == ["pair", "model"]
    assert data["segments"].count(1) == len(tok.tokenize(OTHER)) + 1  # B and its [SEP]
    for text, alone in zip((SENTENCE, OTHER), data["separate"]):
        enc = tok([text], return_tensors="pt")
        with torch.no_grad():
            want = torch.stack([a[0] for a in bert(enc["input_ids"], output_attentions=True).attentions]).double()
        torch.testing.assert_close(from_page(alone, "attention"), want, atol=ROUNDING, rtol=0)


@pytest.fixture(scope="module")
def tiny_sbert(tiny):
    bert, _, tok = tiny
    return SentenceBert(bert, tok, pooling="mean", max_seq_length=64).eval()


def test_sentence_vector_views(tiny_sbert):
    sentences = ["A man plays a guitar.", "Someone plays an instrument.", "A cat sleeps.", "Stocks fell."]
    u = tiny_sbert.encode(sentences, convert_to="torch").double()
    sim = page_data(views.similarity_view(tiny_sbert, sentences))
    torch.testing.assert_close(torch.tensor(sim["similarity"], dtype=torch.float64), F.normalize(u, dim=-1) @ F.normalize(u, dim=-1).T,
                               atol=1e-4, rtol=0)
    pca = page_data(views.pca_view(tiny_sbert, sentences, labels=["music", "music", "cat", "money"]))
    xy = torch.tensor(pca["xy"], dtype=torch.float64)  # (N, 2)
    centred = u - u.mean(0)
    # The first two principal components, up to sign: the projections' variance is the top two
    # eigenvalues of the covariance, and their explained share matches.
    eig = torch.linalg.eigvalsh(centred.T @ centred).flip(0)
    torch.testing.assert_close((xy ** 2).sum(0), eig[:2], atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(torch.tensor(pca["explained"], dtype=torch.float64), eig[:2] / eig.sum(), atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------------------------------
# Bad input: a typed error that names the argument


@pytest.mark.parametrize("call, error, words", [
    (lambda m, t: views.head_view(m, "", tokenizer=t), ValueError, "text is empty"),
    (lambda m, t: views.head_view(m, "   \n", tokenizer=t), ValueError, "text is empty"),
    (lambda m, t: views.pair_view(m, "fine", "", tokenizer=t), ValueError, "pair is empty"),
    (lambda m, t: views.head_view(m, None, tokenizer=t), TypeError, "text must be a str"),
    (lambda m, t: views.head_view(m, "fine", tokenizer=t, layer=3), ValueError, "layer must be an int from 0 to 2"),
    (lambda m, t: views.head_view(m, "fine", tokenizer=t, layer=-1), ValueError, "layer must be"),
    (lambda m, t: views.head_view(m, "fine", tokenizer=t, heads=[0, 4]), ValueError, "heads must be an int from 0 to 3"),
    (lambda m, t: views.head_view(m, "fine", tokenizer=t, heads=[]), ValueError, "heads is empty"),
    (lambda m, t: views.neuron_view(m, "fine", tokenizer=t, head=4), ValueError, "head must be an int from 0 to 3"),
    (lambda m, t: views.neuron_view(m, "fine", tokenizer=t, query=3), ValueError, "query must be an int from 0 to 2"),
    (lambda m, t: views.head_view(m, "fine"), ValueError, "tokenizer is missing"),
    (lambda m, t: views.head_view("bert", "fine", tokenizer=t), TypeError, "model must be"),
    (lambda m, t: views.attention_page(m, "fine", tokenizer=t, panels=("pair",)), ValueError, "pair is missing"),
    (lambda m, t: views.attention_page(m, "fine", tokenizer=t, panels=("heads",)), ValueError, "panels must"),
])
def test_bad_input(tiny, call, error, words):
    bert, _, tok = tiny
    with pytest.raises(error, match=re.escape(words)):
        call(bert, tok)


def test_training_mode_is_refused(tiny):
    bert, _, tok = tiny
    bert.train()
    try:
        with pytest.raises(ValueError, match="model.eval()"):
            views.head_view(bert, "fine", tokenizer=tok)
    finally:
        bert.eval()


def test_sentence_views_bad_input(tiny_sbert, tiny):
    with pytest.raises(ValueError, match="at least 2 sentences"):
        views.similarity_view(tiny_sbert, ["only one"])
    with pytest.raises(TypeError, match="wrap it in a list"):
        views.similarity_view(tiny_sbert, "a string")
    with pytest.raises(ValueError, match=r"sentences\[1\] is empty"):
        views.pca_view(tiny_sbert, ["one", " "])
    with pytest.raises(ValueError, match="labels has 1 entries"):
        views.pca_view(tiny_sbert, ["one", "two"], labels=["x"])
    with pytest.raises(TypeError, match="SentenceBert"):
        views.similarity_view(tiny[0], ["one", "two"])


def test_text_past_the_position_table_is_cut_with_a_note(tiny):
    bert, _, tok = tiny  # 64 positions; 100 words + "it was a tired animal ." + [CLS], [SEP], [SEP] = 109
    view = views.head_view(bert, "word " * 100, OTHER, tokenizer=tok)
    data = page_data(view)
    assert len(data["tokens"]) == 64 and data["tokens"][-1] == "[SEP]"
    assert "has 109 tokens but the model has 64 positions" in data["note"]
    assert torch.tensor(data["attention"]).shape == (3, 4, 64, 64)


# ----------------------------------------------------------------------------------------------------
# The page itself and the command line


def test_page_is_self_contained_and_escapes_its_data(tiny, tmp_path):
    bert, _, tok = tiny
    view = views.head_view(bert, "a </script><script>alert(1)</script> b", tokenizer=tok)
    html = view.html
    assert html.count("</script>") == 2  # the data's and the drawing code's, nothing from the text
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html), "the page must not load anything"
    assert page_data(view)["tokens"][1:4] == ["a", "<", "/"]
    path = view.save(tmp_path / "sub" / "head.html")
    assert path.read_text(encoding="utf-8") == html
    assert "<iframe srcdoc=" in view._repr_html_()


@pytest.mark.slow
def test_cli_writes_a_page(tmp_path, capsys):
    out = tmp_path / "view.html"
    assert main(["view", SENTENCE, "--pair", OTHER, "--out", str(out)]) == 0
    data = page_data(out.read_text(encoding="utf-8"))
    assert data["panels"] == ["pair", "model", "neuron"] and data["segments"][-1] == 1
    assert main(["view", "", "--out", str(tmp_path / "empty.html")]) == 2
    assert "text is empty" in capsys.readouterr().err
    assert not (tmp_path / "empty.html").exists()


# ----------------------------------------------------------------------------------------------------
# Heads, page size and the command line's options


def test_pages_open_on_one_head_unless_told(tiny):
    bert, _, tok = tiny
    assert page_data(views.head_view(bert, SENTENCE, tokenizer=tok))["selected_heads"] == [0]
    assert page_data(views.head_view(bert, SENTENCE, tokenizer=tok, heads=[1, 3]))["selected_heads"] == [1, 3]
    data = page_data(views.neuron_view(bert, SENTENCE, tokenizer=tok, head=2))
    assert (data["head"], data["selected_heads"]) == (2, [2])


def attention_of_tokens(bert, tok, tokens, segments) -> torch.Tensor:
    """The model's attention on exactly these tokens (what a cut page must show), (L, nh, T, T)."""
    ids = torch.tensor([tok.convert_tokens_to_ids(tokens)])
    with torch.no_grad():
        out = bert(ids, torch.ones_like(ids), torch.tensor([segments]), output_attentions=True)
    return torch.stack([a[0] for a in out.attentions]).double()


def test_page_past_its_size_limit_is_cut_with_a_note(tiny):
    bert, _, tok = tiny  # 3 layers x 4 heads, 64 positions: 12 * 64 * 64 weights
    text = "word " * 30 + "the tired animal slept ."  # 35 words + [CLS], [SEP]: 37 tokens
    whole = views.head_view(bert, text, tokenizer=tok)
    assert len(page_data(whole)["tokens"]) == 37 and page_data(whole)["note"] == ""
    max_mb = 0.6 * len(whole.html.encode("utf-8")) / 1e6
    view = views.head_view(bert, text, tokenizer=tok, max_mb=max_mb)
    data = page_data(view)
    assert len(view.html.encode("utf-8")) <= max_mb * 1e6
    n = len(data["tokens"])
    assert 3 <= n < 37 and data["tokens"][0] == "[CLS]" and data["tokens"][-1] == "[SEP]"
    assert data["tokens"][1:-1] == tok.tokenize(text)[:n - 2]  # the first tokens, in order
    assert "The input has 37 tokens but a page of 37 would take" in data["note"]
    assert f"the view shows the first {n}." in data["note"]
    want = attention_of_tokens(bert, tok, data["tokens"], data["segments"])
    torch.testing.assert_close(from_page(data, "attention"), want, atol=ROUNDING, rtol=0)


def test_pair_page_past_its_size_limit_keeps_both_sentences(tiny):
    """A pair is cut longer sentence first; its two sentences alone (the bi-encoder toggle) hold the very
    tokens the pair input kept, and count toward the size."""
    bert, _, tok = tiny
    a, b = "word " * 40, "the tired animal slept on the warm pavement all day ."
    whole = views.pair_view(bert, a, b, tokenizer=tok)
    max_mb = 0.5 * len(whole.html.encode("utf-8")) / 1e6
    view = views.pair_view(bert, a, b, tokenizer=tok, max_mb=max_mb)
    data = page_data(view)
    assert len(view.html.encode("utf-8")) <= max_mb * 1e6
    seg, tokens = data["segments"], data["tokens"]
    kept_a, kept_b = tokens[1:seg.index(1) - 1], tokens[seg.index(1):-1]
    assert kept_b == tok.tokenize(b) and 0 < len(kept_a) < 40  # the longer sentence was cut, the other kept
    assert "(the longer sentence cut first)" in data["note"]
    for kept, alone in zip((kept_a, kept_b), data["separate"]):
        assert alone["tokens"] == ["[CLS]", *kept, "[SEP]"]
        torch.testing.assert_close(from_page(alone, "attention"),
                                   attention_of_tokens(bert, tok, alone["tokens"], [0] * len(alone["tokens"])),
                                   atol=ROUNDING, rtol=0)


def test_page_size_is_known_before_the_page_is_written():
    """The size a page will have, counted from the arrays (to cut an input before writing megabytes of
    JSON), is the length of the JSON that is then written."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randint(-120_000, 120_000, (2, 3, 5, 7), generator=gen).numpy().astype("int32")
    a[0, 0, 0, :5] = [0, 10, -10, 1000, 99999]
    assert views._json_chars(a) == len(json.dumps(a.tolist(), separators=(",", ":")))


@pytest.mark.parametrize("max_mb", [0, -1, "50", True, 1e-6])
def test_bad_page_size_limit(tiny, max_mb):
    bert, _, tok = tiny
    with pytest.raises(ValueError, match="max_mb"):
        views.head_view(bert, SENTENCE, tokenizer=tok, max_mb=max_mb)


def test_view_help_reads_cleanly(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["view", "-h"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text and "--layer" in text and "--heads" in text and "--max-mb" in text


def test_cli_layer_heads_and_size(tiny_sbert_folder, tmp_path, capsys):
    """The tiny folder: 2 layers x 2 heads, 64 positions."""
    out = tmp_path / "view.html"
    common = ["--model", str(tiny_sbert_folder), "--out", str(out)]
    assert main(["view", SENTENCE, "--layer", "1", *common]) == 0
    data = page_data(out.read_text(encoding="utf-8"))
    assert (data["layer"], data["selected_heads"], data["head"]) == (1, [0], 0)  # one head by default
    printed = capsys.readouterr().out
    assert f"({out.stat().st_size / 1e6:.1f} MB, {len(data['tokens'])} tokens)" in printed
    assert main(["view", SENTENCE, "--heads", "1,0", *common]) == 0
    data = page_data(out.read_text(encoding="utf-8"))
    assert (data["selected_heads"], data["head"]) == ([1, 0], 1)  # the neuron view opens on the first
    assert main(["view", SENTENCE, "--heads", "all", *common]) == 0
    assert page_data(out.read_text(encoding="utf-8"))["selected_heads"] == [0, 1]
    capsys.readouterr()
    assert main(["view", "word " * 200, "--max-mb", "0.07", *common]) == 0
    printed = capsys.readouterr().out
    assert out.stat().st_size <= 0.07e6
    assert "but the model has 64 positions, and a page of 64 would take" in printed
    for bad, words in ((["--heads", "2"], "heads must be an int from 0 to 1"),
                       (["--layer", "2"], "layer must be an int from 0 to 1")):
        assert main(["view", SENTENCE, *bad, *common]) == 2
        assert words in capsys.readouterr().err
    for bad, words in ((["--heads", "x"], "--heads: must be 'all' or head indices"),
                       (["--heads", "0,0"], "--heads: names a head twice"),
                       (["--max-mb", "0"], "--max-mb: must be a positive number")):
        with pytest.raises(SystemExit) as exit:
            main(["view", SENTENCE, *bad, *common])
        assert exit.value.code == 2 and words in capsys.readouterr().err
    assert main(["view", SENTENCE, "--model", str(tiny_sbert_folder), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_pair_of_long_inputs_stays_under_the_size_limit(tmp_path, capsys):
    """Two 2,000-word inputs: the model's 512 positions alone would make a page over the limit (the pair,
    its two sentences alone, and q and k), so the input is cut further, and the page and the output say so."""
    text = " ".join(["the quick brown fox jumps over the lazy dog"] * 222)  # 1,998 words, 1,998 tokens
    out = tmp_path / "pair.html"
    assert main(["view", text, "--pair", text, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    size = out.stat().st_size
    assert size <= views.MAX_PAGE_MB * 1e6
    data = page_data(out.read_text(encoding="utf-8"))
    n = len(data["tokens"])
    assert 300 < n < 512  # cut below the positions, but not to nothing
    assert f"({size / 1e6:.1f} MB, {n} tokens)" in printed
    assert "The input has 3999 tokens but the model has 512 positions, and a page of 512 would take" in data["note"]
    assert data["note"] in printed
    assert data["panels"] == ["pair", "model", "neuron"] and data["selected_heads"] == [0]
    a = (n - 3) // 2  # two equal sentences share the n - 3 places, B taking the odd one (as transformers cuts)
    assert [len(alone["tokens"]) for alone in data["separate"]] == [a + 2, n - 3 - a + 2]
