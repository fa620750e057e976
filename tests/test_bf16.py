"""bf16 inference (``compute="bf16"``): fp32 vectors out, close to the fp32 path, the same STSb ranking.

bf16 keeps 8 significant bits, so every matrix product's inputs are rounded to ~4e-3 relative; the fast
path takes every sum in fp32 (the products', LayerNorm's statistics, attention, pooling) and stores the
activations between them in bf16 (minisbert/speed/fast.py). The bounds below are stated for unit sentence
vectors: all-MiniLM-L6-v2 measured 2.4e-3 max |Δ| over the STSb test sentences (bound 1e-2); the fast
path's bf16 on a tiny random BERT is tested in tests/test_fast.py.
These tests run on any CPU: without bf16 instructions torch emulates bf16 (slower, the same numbers).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from minisbert.speed import hardware

REAL_BOUND = 1e-2  # unit vectors, all-MiniLM-L6-v2 (measured 2.4e-3)


@pytest.fixture(autouse=True)
def _no_emulation_warning_noise():
    """The once-per-process warning state is reset around every test, so each test sees it afresh."""
    saved = set(hardware._warned)
    yield
    hardware._warned.clear()
    hardware._warned.update(saved)


@pytest.mark.fast
def test_bad_precision_is_refused():
    with pytest.raises(ValueError, match="precision"):
        hardware.choose_precision("int8")


@pytest.mark.fast
@pytest.mark.parametrize("flags, device, want", [
    ({"avx2", "avx512f", "avx512_bf16"}, "cpu", "bf16"),  # Zen 4, Cooper Lake
    ({"avx2", "avx512f", "amx_bf16", "amx_int8"}, "cpu", "bf16"),  # Sapphire Rapids
    ({"avx2"}, "cpu", "fp32"),  # Zen 1/2/3: bf16 would be emulated, slower
    (set(), "cpu", "fp32"),  # flags unknown (no /proc/cpuinfo)
])
def test_auto_takes_bf16_only_where_the_cpu_has_bf16_instructions(monkeypatch, flags, device, want):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    assert hardware.choose_precision("auto", device) == want
    assert hardware.choose_precision("fp32", device) == "fp32"


@pytest.mark.fast
def test_bf16_without_bf16_instructions_warns_once(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx2"}))
    hardware._warned.clear()
    with pytest.warns(RuntimeWarning, match="slower than fp32"):
        assert hardware.resolve_precision("bf16") == "bf16"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hardware.resolve_precision("bf16")  # the second time: silent
        hardware.resolve_precision("auto")  # fp32 here: nothing to warn about
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    hardware._warned.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hardware.resolve_precision("bf16")  # native: no warning


@pytest.mark.fast
def test_cuda_asked_for_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        hardware.check_device("cuda")
    with pytest.raises(ValueError, match="device must be"):
        hardware.check_device("tpu")
    assert hardware.check_device("cpu") == torch.device("cpu")


# ----------------------------------------------------------------------------------------------------
# all-MiniLM-L6-v2 on real sentences


@pytest.fixture(scope="module")
def stsb_test(data_dir):
    from minisbert.io.data import load_stsb

    return load_stsb("test", data_dir)


def test_real_bf16_vectors_close_to_fp32_in_padded_batches(real_sbert, stsb_test):
    sentences = [s for p in stsb_test[:300] for s in (p.sentence1, p.sentence2)]
    fp32 = real_sbert.encode(sentences, batch_size=32)
    bf16 = real_sbert.encode(sentences, batch_size=32, compute="bf16")
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape
    err = np.abs(bf16 - fp32).max()
    assert 0 < err <= REAL_BOUND
    # The plain forward under autocast (fast_inference off) is bounded the same way.
    real_sbert.fast_inference = False
    try:
        plain = real_sbert.encode(sentences[:64], batch_size=16, compute="bf16")
    finally:
        real_sbert.fast_inference = True
    assert 0 < np.abs(plain - fp32[:64]).max() <= REAL_BOUND
    # One sentence alone, and "auto" (bf16 or fp32, whichever this CPU takes) within the same bound.
    one = real_sbert.encode(sentences[0], compute="bf16")
    assert np.abs(one - fp32[0]).max() <= REAL_BOUND
    assert np.abs(real_sbert.encode(sentences[:8], compute="auto") - fp32[:8]).max() <= REAL_BOUND


def test_cross_encoder_predict_in_bf16(model_dir, stsb_test):
    from minisbert.cross_encoder import CrossEncoder

    torch.manual_seed(0)
    ce = CrossEncoder.from_pretrained(model_dir)  # a fresh head on the real encoder
    with torch.no_grad():
        ce.classifier.weight.normal_(0, 0.2)  # a head with visible weights, not the tiny initialisation
    pairs = [(p.sentence1, p.sentence2) for p in stsb_test[:64]]
    fp32 = ce.predict(pairs, activation=False)
    bf16 = ce.predict(pairs, activation=False, compute="bf16")
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape
    assert 0 < np.abs(bf16 - fp32).max() <= 0.05 * max(1.0, np.abs(fp32).max())
    assert np.corrcoef(fp32, bf16)[0, 1] > 0.99


@pytest.mark.slow
def test_stsb_test_spearman_in_bf16_within_0_1_of_fp32(real_sbert, stsb_test):
    """The whole STSb test split (1,379 pairs: 2,758 sentences), Spearman ×100 of cos(u, v) against the
    gold scores, scipy as the reference."""
    from scipy.stats import spearmanr

    gold = [p.score for p in stsb_test]
    scores = {}
    for precision in ("fp32", "bf16"):
        a = real_sbert.encode([p.sentence1 for p in stsb_test], compute=precision)
        b = real_sbert.encode([p.sentence2 for p in stsb_test], compute=precision)
        scores[precision] = 100 * spearmanr((a * b).sum(1), gold).statistic
    assert scores["fp32"] == pytest.approx(82.03, abs=0.01)  # the published all-MiniLM-L6-v2 figure here
    assert abs(scores["bf16"] - scores["fp32"]) <= 0.1


# ----------------------------------------------------------------------------------------------------
# Training under autocast


@pytest.mark.parametrize("objective_name", ["regression", "classification"])
def test_training_in_bf16_follows_fp32(tiny_sbert_folder, objective_name):
    """A few steps of each objective under bf16 autocast: fp32 weights and losses, the same losses as
    fp32 within bf16's rounding, and the weights move as in fp32."""
    from minisbert import SentenceBert
    from minisbert.examples import PairExample
    from minisbert.objectives import ClassificationObjective, RegressionObjective
    from minisbert.training import TrainConfig, train
    from minisbert.io.weights import read_safetensors

    start = read_safetensors(tiny_sbert_folder / "model.safetensors")
    words = ["a man plays a guitar", "someone is cooking", "the cat sleeps", "two dogs run on grass"]
    examples = [PairExample(words[i % 4], words[(i * 3 + 1) % 4],
                            (i % 5) / 4 if objective_name == "regression" else ["yes", "no"][i % 2])
                for i in range(24)]

    def run(precision):
        model = SentenceBert.from_pretrained(tiny_sbert_folder)
        torch.manual_seed(1)
        objective = (RegressionObjective(model) if objective_name == "regression"
                     else ClassificationObjective(model, ["yes", "no"]))
        state = train(objective, examples, TrainConfig(batch_size=8, lr=1e-3, seed=0, progress=False,
                                                      precision=precision))
        return state.losses, {k: v.detach().clone() for k, v in objective.state_dict().items()}

    (losses32, params32), (losses16, params16) = run("fp32"), run("bf16")
    assert len(losses16) == 3 and all(np.isfinite(losses16))
    assert losses16 == pytest.approx(losses32, rel=5e-2, abs=1e-3)
    assert losses16 != losses32  # bf16 really ran
    assert all(p.dtype == torch.float32 for p in params16.values())
    # The bf16 run goes where the fp32 run goes: the two end points are much closer to each other than to
    # the start (as whole vectors: Adam's sign-like steps can flip single near-zero coordinates).
    names = [k for k in params32 if k.startswith("model.bert.")]
    flat = lambda params: torch.cat([params[k].flatten() for k in names])  # noqa: E731
    origin = torch.cat([start[k[len("model.bert."):]].flatten() for k in names])
    assert (flat(params16) - flat(params32)).norm() < 0.3 * (flat(params32) - origin).norm()
