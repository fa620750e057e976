"""The API transformers and sentence-transformers users already know: top-level names, sentence-transformers'
keyword arguments with its meanings and return types (checked against sentence-transformers 6.2 in this
process), tokenizer loading from a name or a tokenizer.json-only folder, the progress policy and the
command line's error handling."""

from __future__ import annotations

import copy
import importlib
import json

import numpy as np
import pytest
import torch

import minisbert
from minisbert import BertConfig, BertModel, BertTokenizer, CrossEncoder, SentenceBert
from minisbert.speed import batching
from minisbert.io import weights as weights_module
from minisbert.__main__ import main
from minisbert.io.data import load_stsb

TOL = 1e-5
SENTENCES = ["A man is playing a guitar.", "Someone plays an instrument.", "A woman is slicing an onion.",
             "The cat sat on the mat.", "A man is playing a guitar."]


# ----------------------------------------------------------------------------------------------------
# Top-level names

@pytest.mark.fast
def test_every_public_name_imports_from_the_top_level():
    from minisbert import (BertTokenizer, CrossEncoder, SentenceBert, cos_sim, dot_score, fetch,  # noqa: F401
                           paraphrase_mining, pretrain, semantic_search, train)
    from minisbert import cross_encoder, similarity, tokenizer

    fetch_module = importlib.import_module("minisbert.io.fetch")  # the attribute minisbert.fetch is the function

    namespace = {}
    exec("from minisbert import *", namespace)
    assert set(minisbert.__all__) <= set(namespace), set(minisbert.__all__) - set(namespace)
    assert len(minisbert.__all__) == len(set(minisbert.__all__))
    # the same objects as in the modules that explain them
    assert minisbert.BertTokenizer is tokenizer.BertTokenizer and minisbert.CrossEncoder is cross_encoder.CrossEncoder
    assert minisbert.cos_sim is similarity.cos_sim and minisbert.semantic_search is similarity.semantic_search
    assert minisbert.fetch is fetch_module.fetch
    for name in ("BertTokenizer", "BertModel", "SentenceBert", "CrossEncoder", "cos_sim", "dot_score",
                 "semantic_search", "paraphrase_mining", "train", "TrainConfig", "pretrain", "fetch"):
        assert name in minisbert.__all__, name


# ----------------------------------------------------------------------------------------------------
# SentenceBert.encode with sentence-transformers' keyword arguments

def same_kind(ours, theirs):
    """Same type, shape, dtype and values (within TOL), recursively for lists."""
    assert type(ours) is type(theirs), (type(ours), type(theirs))
    if isinstance(theirs, list):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same_kind(a, b)
        return
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    if isinstance(theirs, torch.Tensor):
        assert ours.device == theirs.device
        assert (ours - theirs).abs().max() <= TOL
    else:
        assert np.abs(ours - theirs).max() <= TOL


ENCODE_KWARGS = [
    {},
    {"convert_to_tensor": True},
    {"convert_to_numpy": False},
    {"convert_to_tensor": True, "convert_to_numpy": True},  # convert_to_tensor wins
    {"normalize_embeddings": True, "batch_size": 2},
    {"show_progress_bar": False, "device": "cpu"},
]


@pytest.mark.parametrize("kwargs", ENCODE_KWARGS, ids=lambda k: ",".join(k) or "defaults")
@pytest.mark.parametrize("single", [False, True], ids=["list", "one-string"])
def test_encode_matches_sentence_transformers(real_sbert, st_model, kwargs, single):
    inputs = SENTENCES[0] if single else SENTENCES
    theirs = st_model.encode(inputs, **{"show_progress_bar": False, **kwargs})
    ours = real_sbert.encode(inputs, **kwargs)
    same_kind(ours, theirs)


def small_model_pair(model_dir, folder, normalize: bool):
    """A small random SentenceBert (real vocabulary) saved to ``folder``; returns the folder, minisbert's model
    and sentence-transformers' on it."""
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=37, max_position_embeddings=128))
    model = SentenceBert(bert, BertTokenizer.from_pretrained(model_dir), normalize=normalize, max_seq_length=128).eval()
    model.save(folder)
    return folder, SentenceBert.from_pretrained(folder), SentenceTransformer(str(folder), device="cpu")


@pytest.fixture(scope="module")
def unnormalised(model_dir, tmp_path_factory):
    """A small random SentenceBert without a Normalize module, saved; and sentence-transformers on the folder."""
    return small_model_pair(model_dir, tmp_path_factory.mktemp("unnormalised") / "model", normalize=False)


@pytest.mark.fast
@pytest.mark.parametrize("normalize_embeddings", [False, True])
def test_normalize_embeddings_on_a_model_without_normalize(unnormalised, normalize_embeddings):
    _, ours, st = unnormalised
    theirs = st.encode(SENTENCES, normalize_embeddings=normalize_embeddings, show_progress_bar=False)
    mine = ours.encode(SENTENCES, normalize_embeddings=normalize_embeddings)
    same_kind(mine, theirs)
    norms = np.linalg.norm(mine, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-6) == normalize_embeddings


@pytest.mark.fast
@pytest.mark.parametrize("fn", ["cosine", "dot", "euclidean", "manhattan"])
def test_similarity_uses_the_folders_function(unnormalised, tmp_path, fn):
    from sentence_transformers import SentenceTransformer

    folder, model, _ = unnormalised
    model = copy.deepcopy(model)
    model.similarity_fn_name = fn
    model.save(tmp_path / fn)  # written into config_sentence_transformers.json, read back by both libraries
    assert json.loads((tmp_path / fn / "config_sentence_transformers.json").read_text())["similarity_fn_name"] == fn
    ours, st = SentenceBert.from_pretrained(tmp_path / fn), SentenceTransformer(str(tmp_path / fn), device="cpu")
    assert ours.similarity_fn_name == st.similarity_fn_name == fn
    a, b = ours.encode(SENTENCES), ours.encode(SENTENCES[::-1])
    same_kind(ours.similarity(a, b), st.similarity(a, b))
    same_kind(ours.similarity_pairwise(a, b), st.similarity_pairwise(a, b))


def test_similarity_of_the_real_model(real_sbert, st_model):
    assert real_sbert.similarity_fn_name == "cosine"  # the folder names none: cosine, as sentence-transformers
    a = real_sbert.encode(SENTENCES, convert_to_tensor=True)
    same_kind(real_sbert.similarity(a, a), st_model.similarity(a, a))
    b = a.flip(0)
    same_kind(real_sbert.similarity_pairwise(a, b), st_model.similarity_pairwise(a, b))


def test_from_pretrained_with_a_hub_name_and_a_device(real_sbert, model_dir):
    model = SentenceBert.from_pretrained("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    assert model.device == torch.device("cpu")
    assert np.abs(model.encode(SENTENCES) - real_sbert.encode(SENTENCES)).max() == 0.0
    assert weights_module.resolve_model_dir("sentence-transformers/all-MiniLM-L6-v2") == model_dir
    with pytest.raises(FileNotFoundError, match="fetch all-MiniLM-L6-v2"):
        SentenceBert.from_pretrained("sentence-transformers/all-mpnet-base-v2")


@pytest.mark.fast
def test_an_unknown_keyword_is_a_type_error_naming_it(unnormalised):
    _, ours, _ = unnormalised
    with pytest.raises(TypeError, match="no_such_keyword"):
        ours.encode(SENTENCES, no_such_keyword=1)
    with pytest.raises(ValueError, match="Prompt name 'nope' not found"):
        ours.encode(SENTENCES, prompt_name="nope")
    with pytest.raises(TypeError, match="convert_to_tensor must be True, False or None"):
        ours.encode(SENTENCES, convert_to_tensor="yes")



@pytest.mark.fast
def test_sentence_transformers_precision_names(unnormalised):
    """ST's ``precision="float32"`` (its default) is our fp32; its quantisations give its arrays' dtype and
    shape (their values: tests/test_api_parity.py); a precision it does not have is refused by name."""
    _, ours, st = unnormalised
    ours_fp32 = ours.encode(SENTENCES, precision="float32")
    assert np.array_equal(ours_fp32, ours.encode(SENTENCES))
    np.testing.assert_allclose(ours_fp32, st.encode(SENTENCES, precision="float32"), atol=1e-6)
    for quantised in ("int8", "binary"):
        got, want = ours.encode(SENTENCES, precision=quantised), st.encode(SENTENCES, precision=quantised)
        assert got.dtype == want.dtype and got.shape == want.shape
    with pytest.raises(ValueError, match="Precision 'fp16' is not supported"):
        ours.encode(SENTENCES, precision="fp16")


# ----------------------------------------------------------------------------------------------------
# CrossEncoder.predict and rank

@pytest.fixture(scope="module", params=[1, 3], ids=["score", "3-labels"])
def cross(request, model_dir, tmp_path_factory):
    """A small random cross-encoder saved by minisbert, and sentence-transformers' CrossEncoder on the folder."""
    from sentence_transformers import CrossEncoder as STCrossEncoder

    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=37, max_position_embeddings=128))
    ce = CrossEncoder(bert, BertTokenizer.from_pretrained(model_dir), labels=[f"L{i}" for i in range(request.param)])
    with torch.no_grad():
        ce.classifier.weight.normal_(0, 0.5)
    folder = tmp_path_factory.mktemp("ce") / "model"
    ce.save(folder)
    return CrossEncoder.from_pretrained(folder), STCrossEncoder(str(folder), device="cpu")


PAIRS = [(SENTENCES[0], SENTENCES[1]), (SENTENCES[2], SENTENCES[3]), ("Hi", "Hello there")]
PREDICT_KWARGS = [{}, {"convert_to_tensor": True}, {"convert_to_numpy": False}, {"apply_softmax": True},
                  {"activation_fn": torch.nn.Identity()}, {"batch_size": 1, "device": "cpu"}]


@pytest.mark.fast
@pytest.mark.parametrize("kwargs", PREDICT_KWARGS, ids=lambda k: ",".join(k) or "defaults")
@pytest.mark.parametrize("single", [False, True], ids=["pairs", "one-pair"])
def test_predict_matches_sentence_transformers(cross, kwargs, single):
    ours, st = cross
    inputs = PAIRS[0] if single else PAIRS
    theirs = st.predict(inputs, **{"show_progress_bar": False, **kwargs})
    mine = ours.predict(inputs, **kwargs)
    if isinstance(theirs, np.floating):  # one pair, one score: a numpy scalar
        assert type(mine) is type(theirs) and abs(mine - theirs) <= TOL
    else:
        same_kind(mine, theirs)


@pytest.mark.fast
@pytest.mark.parametrize("top_k, return_documents", [(None, False), (2, True), (10, True)])
def test_rank_matches_sentence_transformers(cross, top_k, return_documents):
    ours, st = cross
    documents = [s for s in SENTENCES] + ["Hello there"]
    if ours.num_labels != 1:
        with pytest.raises(ValueError, match="one output"):
            ours.rank("A man plays", documents)
        return
    theirs = st.rank("A man plays music.", documents, top_k=top_k, return_documents=return_documents,
                     show_progress_bar=False)
    mine = ours.rank("A man plays music.", documents, top_k=top_k, return_documents=return_documents)
    assert [r["corpus_id"] for r in mine] == [r["corpus_id"] for r in theirs]
    for a, b in zip(mine, theirs):
        assert a.keys() == b.keys() and type(a["score"]) is type(b["score"]) is float
        assert abs(a["score"] - b["score"]) <= TOL and a.get("text") == b.get("text")


# ----------------------------------------------------------------------------------------------------
# The tokenizer from a name, or from a folder holding only tokenizer.json

def test_tokenizer_from_a_name_and_from_tokenizer_json_alone(model_dir, data_dir, tmp_path):
    import transformers

    hf = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    hf.save_pretrained(tmp_path)  # transformers 5 writes tokenizer.json and tokenizer_config.json, no vocab.txt
    assert not (tmp_path / "vocab.txt").exists() and (tmp_path / "tokenizer.json").is_file()
    from_json = BertTokenizer.from_pretrained(tmp_path)
    from_vocab = BertTokenizer.from_pretrained(model_dir)
    by_name = BertTokenizer.from_pretrained("all-MiniLM-L6-v2")
    by_hub_name = BertTokenizer.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
    pairs = load_stsb("test", data_dir)
    texts = sorted({s for p in pairs for s in (p.sentence1, p.sentence2)})
    expected = hf(texts)["input_ids"]
    for tok in (from_json, from_vocab, by_name, by_hub_name):
        assert tok(texts, padding=False, return_tensors=None)["input_ids"] == expected
    assert from_json.vocab == from_vocab.vocab and from_json.model_max_length == from_vocab.model_max_length
    (tmp_path / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="no vocab.txt or tokenizer.json"):
        BertTokenizer.from_pretrained(tmp_path)


# ----------------------------------------------------------------------------------------------------
# One progress policy

@pytest.mark.fast
def test_the_progress_policy():
    long, short = batching.LONG_JOB_STEPS + 1, batching.LONG_JOB_STEPS
    assert batching.show_progress(None, long) and not batching.show_progress(None, short)
    assert batching.show_progress(None, None)  # unknown length (a download without a size)
    assert batching.show_progress(True, 1) and not batching.show_progress(False, long)
    with batching.quiet_progress():  # --quiet: no bar, whatever is asked
        assert not batching.show_progress(True, long) and not batching.show_progress(None, long)
    assert batching.show_progress(None, long)


@pytest.mark.fast
def test_encode_and_predict_follow_it(unnormalised, cross, capsys):
    _, model, _ = unnormalised
    ce, _ = cross
    many = [f"sentence number {i}" for i in range(batching.LONG_JOB_STEPS + 1)]
    for run in (lambda **kw: model.encode(many, batch_size=1, **kw),
                lambda **kw: ce.predict([(s, s) for s in many], batch_size=1, **kw)):
        run()  # long: a bar by default (also when stderr is not a terminal, as in Jupyter)
        assert "%|" in capsys.readouterr().err
        run(show_progress_bar=False)
        assert capsys.readouterr().err == ""
        with batching.quiet_progress():
            run(show_progress_bar=True)
        assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------------------------------
# The command line's errors: a user's mistake is one line and exit code 2, a bug a traceback

@pytest.mark.fast
def test_user_errors_are_one_line_and_bugs_are_tracebacks(tmp_path, capsys, monkeypatch):
    from minisbert.commands import demo

    assert main(["demo", "--model", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "nope" in err
    with pytest.raises(FileNotFoundError):  # --debug: the traceback of a user error too
        main(["demo", "--model", str(tmp_path / "nope"), "--debug"])
    for bug in (TypeError("unsupported operand"), RuntimeError("shape mismatch"), IndexError("oops")):
        def broken(args, bug=bug):
            raise bug

        monkeypatch.setattr(demo, "run", broken)
        with pytest.raises(type(bug)):  # not turned into a tidy line: Python prints it and exits with 1
            main(["demo"])
