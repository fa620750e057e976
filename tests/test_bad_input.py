"""The bad-input matrix: every public entry point answers bad input with a typed error that names the
argument and what was wrong (or a documented behaviour), never a silent wrong result or a crash deep
inside torch. One row per case; the training objectives' own cases are in tests/test_train.py and the
checkpoint-file cases in tests/test_weights.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from minisbert import BertConfig, BertModel
from minisbert.io import data as data_module
from minisbert import evaluate, similarity
from minisbert.io.data import DataError
from minisbert.sbert import SentenceBert
from minisbert.tokenizer import BertTokenizer
from minisbert.io.weights import read_safetensors


@pytest.fixture(scope="module")
def tok(model_dir):
    return BertTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def sbert(real_sbert):
    return real_sbert  # the run's shared model (tests/conftest.py)


EMB = torch.randn(6, 8, generator=torch.Generator().manual_seed(0))

# (id, function of (tok, sbert), exception, message pattern)
CASES = [
    # tokenizer
    ("tok-none", lambda t, s: t(None), TypeError, "text must be a str or a list of str, got NoneType"),
    ("tok-number", lambda t, s: t(5), TypeError, "got int"),
    ("tok-bytes", lambda t, s: t(b"abc"), TypeError, "got bytes"),
    ("tok-nested", lambda t, s: t([["a"]]), TypeError, r"text\[0\] must be str, got list"),
    ("tok-none-item", lambda t, s: t(["a", None]), TypeError, r"text\[1\] must be str, got NoneType"),
    ("tok-pair-length", lambda t, s: t(["a", "b"], ["c"]), ValueError, "text_pair"),
    ("tok-padding-mode", lambda t, s: t("a", padding="weird"), ValueError, "padding must be"),
    ("tok-stride", lambda t, s: t("word " * 600, stride=600, return_overflowing_tokens=True), ValueError, "stride=600 must be less than"),
    # BertModel
    ("bert-list", lambda t, s: s.bert([[1, 2]]), TypeError, "input_ids must be a torch.Tensor"),
    ("bert-1d", lambda t, s: s.bert(torch.ones(3, dtype=torch.long)), ValueError, "input_ids must have shape"),
    ("bert-float-ids", lambda t, s: s.bert(torch.ones(1, 3)), TypeError, "input_ids must hold integer ids"),
    ("bert-513", lambda t, s: s.bert(torch.ones(1, 513, dtype=torch.long)), ValueError, "512 positions"),
    ("bert-mask-shape", lambda t, s: s.bert(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 4)), ValueError,
     "attention_mask shape"),
    ("bert-mask-dtype", lambda t, s: s.bert(torch.ones(1, 3, dtype=torch.long), torch.ones(1, 3, dtype=torch.complex64)),
     TypeError, "attention_mask must be bool, integer or float"),
    ("bert-mask-values", lambda t, s: s.bert(torch.ones(1, 3, dtype=torch.long), torch.full((1, 3), 0.5)), ValueError,
     "attention_mask must hold only 0"),
    # SentenceBert.encode
    ("encode-none", lambda t, s: s.encode(None), TypeError, "sentences"),
    ("encode-number", lambda t, s: s.encode(5), TypeError, "sentences"),
    ("encode-none-item", lambda t, s: s.encode(["a", None]), TypeError, r"sentences\[1\]"),
    ("encode-bytes", lambda t, s: s.encode([b"x"]), TypeError, r"sentences\[0\]"),
    ("encode-nested", lambda t, s: s.encode([["a"]]), TypeError, r"sentences\[0\]"),
    ("encode-batch-size", lambda t, s: s.encode(["a"], batch_size=0), ValueError, "batch_size"),
    ("encode-convert-to", lambda t, s: s.encode(["a"], convert_to="list"), ValueError, "convert_to"),
    # similarity and search
    ("sim-dims", lambda t, s: similarity.cos_sim(EMB, torch.randn(3, 7)), ValueError, r"\(6, 8\).*\(3, 7\)"),
    ("search-top-k-0", lambda t, s: similarity.semantic_search(EMB, EMB, top_k=0), ValueError, "top_k"),
    ("search-top-k-negative", lambda t, s: similarity.semantic_search(EMB, EMB, top_k=-3), ValueError, "top_k"),
    ("mining-one", lambda t, s: similarity.paraphrase_mining(EMB[:1]), ValueError, "at least two"),
    ("mining-top-k-0", lambda t, s: similarity.paraphrase_mining(EMB, top_k=0), ValueError, "top_k"),
    # data readers and metrics
    ("data-missing-folder", lambda t, s: data_module.load_stsb("test", data_dir="/nonexistent"), FileNotFoundError,
     "/nonexistent"),
    ("data-unknown-split", lambda t, s: data_module.load_sick("validation", data_dir=os.environ.get("MINISBERT_DATA")),
     ValueError, "validation"),
    ("spearman-nan", lambda t, s: evaluate.spearman([1.0, float("nan"), 3.0], [1, 2, 3]), ValueError, "NaN"),
    ("pearson-lengths", lambda t, s: evaluate.pearson([1.0, 2.0, 3.0], [1.0, 2.0]), ValueError, "length|differ"),
    # pooling
    ("pooling-unknown", lambda t, s: SentenceBert.from_pretrained("all-MiniLM-L6-v2", pooling="median"),
     ValueError, "mean, max, cls"),
]


@pytest.mark.fast
@pytest.mark.parametrize("case, call, error, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_a_typed_named_error(tok, sbert, case, call, error, message):
    with pytest.raises(error, match=message):
        call(tok, sbert)


@pytest.mark.fast
def test_empty_and_whitespace_inputs_are_documented_behaviour(tok, sbert):
    assert tok([])["input_ids"].shape == (0, 0)  # an empty batch
    assert tok("   ")["input_ids"].tolist() == [[tok.cls_token_id, tok.sep_token_id]]  # whitespace: no words
    assert sbert.encode([]).shape == (0, sbert.dim)  # an empty list: an empty (0, dim) result
    vector = sbert.encode("")  # an empty string: the vector of "[CLS] [SEP]"
    assert vector.shape == (sbert.dim,) and np.isfinite(vector).all()
    assert len(similarity.semantic_search(EMB[:2], EMB, top_k=100)[0]) == len(EMB)  # top_k past the corpus: clamped


@pytest.mark.fast
def test_text_past_512_tokens_is_truncated_with_one_warning(model_dir, sbert):
    tok = BertTokenizer.from_pretrained(model_dir)  # a fresh tokenizer: the warning is once per instance
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch = tok(["word " * 2000, "word " * 3000])
        tok(["word " * 2000])
    assert batch["input_ids"].shape == (2, 512)
    assert len([w for w in caught if "truncated" in str(w.message)]) == 1
    assert sbert.encode("word " * 5000).shape == (sbert.dim,)  # no index error in the position embeddings


@pytest.mark.fast
@pytest.mark.parametrize("content, message", [
    ("main-captions\tMSRvid\t2012test\t0001\t2.5\tonly one sentence\n", "line 1"),
    ("main-captions\tMSRvid\t2012test\t0001\tabc\ta\tb\n", "line 1"),
    ("main-captions\tMSRvid\t2012test\t0001\t2.5\ta\tb\nmain-captions\tMSRvid\t2012test\t0002\tnan\ta\tb\n", "line 2"),
    ("main-captions\tMSRvid\t2012test\t0001\t7.5\ta\tb\n", "line 1"),
])
def test_malformed_stsb_rows_name_file_and_line(tmp_path, content, message):
    (tmp_path / "stsbenchmark").mkdir()
    (tmp_path / "stsbenchmark" / "sts-test.csv").write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=f"sts-test.csv.*{message}|{message}.*sts-test.csv"):
        data_module.load_stsb("test", data_dir=tmp_path)


@pytest.mark.fast
@pytest.mark.parametrize("row, what", [
    ("1\ta\tb\t4.5\tMAYBE\n", "MAYBE"),  # unknown label
    ("1\ta\tb\t4.5\tnan\n", "nan"),  # NaN label
    ("1\ta\tb\tnan\tNEUTRAL\n", "line 1"),  # NaN score
    ("1\ta\tb\n", "line 1"),  # missing columns
])
def test_malformed_sick_rows_name_file_and_line(tmp_path, row, what):
    (tmp_path / "sick").mkdir()
    (tmp_path / "sick" / "SICK_test_annotated.txt").write_text(row, encoding="utf-8")
    with pytest.raises(DataError, match="SICK_test_annotated.txt") as info:
        data_module.load_sick("test", data_dir=tmp_path)
    assert what in str(info.value)


def run_cli(*argv, timeout=300, **kwargs):
    return subprocess.run([sys.executable, "-m", "minisbert", *argv], capture_output=True, text=True,
                          timeout=timeout, **kwargs)


@pytest.mark.parametrize("argv", [
    ["encode", "--file", "/nonexistent/lines.txt", "-o", "/tmp/out.npy"],
    ["search", "--corpus", "/nonexistent/corpus.txt", "--query", "a cat"],
    ["eval", "stsb", "--split", "validation"],
    ["similarity", "a", "b", "--model", "/nonexistent/model"],
    ["train", "--objective", "regression", "--data", "stsb", "--out", "/tmp/x", "--batch-size", "zero"],
    ["bench", "--no-such-flag"],
])
def test_cli_errors_exit_2_with_one_line(argv):
    done = run_cli(*argv)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]  # argparse prints its usage above the one-line message
    assert last.startswith("minisbert") and "error:" in last


def test_cli_unreadable_file_exits_2(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(b"\xff\xfe\xfa not utf-8\n")
    done = run_cli("encode", "--file", str(corpus), "-o", str(tmp_path / "out.npy"))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "corpus.txt" in done.stderr


@pytest.fixture
def tiny_model_folder(tmp_path, tok):
    torch.manual_seed(0)
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                        max_position_embeddings=64)
    model = SentenceBert(BertModel(config), tok, pooling="mean", normalize=False, max_seq_length=32)
    model.save(tmp_path / "tiny")
    return tmp_path / "tiny"


def test_training_killed_mid_epoch_then_resumed_matches_an_uninterrupted_run(tiny_model_folder, tmp_path, data_dir, killed_when):
    """A real subprocess, killed with SIGKILL after its first checkpoint, then resumed from it."""
    common = ["train", "--objective", "regression", "--data", "stsb", "--model", str(tiny_model_folder),
              "--epochs", "2", "--limit", "160", "--batch-size", "8", "--lr", "1e-3", "--max-seq-length", "24",
              "--checkpoint-every", "2", "--data-dir", str(data_dir), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    whole = run_cli(*common, "--out", str(tmp_path / "whole"), env=env)
    assert whole.returncode == 0, whole.stderr

    killed_out, checkpoint = tmp_path / "killed", tmp_path / "killed-checkpoint"
    killed_when([sys.executable, "-m", "minisbert", *common, "--out", str(killed_out)], checkpoint, env=env)
    assert checkpoint.exists() and not killed_out.exists()

    resumed = run_cli(*common, "--out", str(killed_out), "--resume", env=env)
    assert resumed.returncode == 0, resumed.stderr
    a = read_safetensors(tmp_path / "whole" / "model.safetensors")
    b = read_safetensors(killed_out / "model.safetensors")
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
