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
