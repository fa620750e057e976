"""The training loop: it learns, it repeats exactly, it resumes exactly, its saves are atomic, and it
refuses bad input before the first step.

A tiny random BERT (2 layers, H = 32, the real vocabulary) keeps every run to a second or two; the
examples are small slices of the real STS Benchmark and SICK.
"""

from __future__ import annotations

import importlib
import json
import math

import pytest
import torch
from sentence_transformers import SentenceTransformer

from minisbert import BertConfig, BertModel, SentenceBert
from minisbert.__main__ import main
from minisbert.io.data import SICK_LABELS
from minisbert.examples import (
    PairExample,
    make_pairs,
    make_triplets,
    sick_classification,
    sick_triplets,
    stsb_regression,
)
from minisbert.objectives import ClassificationObjective, RegressionObjective, TripletObjective
from minisbert.tokenizer import BertTokenizer
from minisbert.io import checkpoint as checkpoint_module
train_module = importlib.import_module("minisbert.training")  # the module (minisbert.train is the function)
from minisbert.io.checkpoint import load_checkpoint, save_checkpoint
from minisbert.optimization import make_optimizer
from minisbert.training import TrainConfig, train

FAST = dict(batch_size=8, lr=1e-3, progress=False)  # a random model needs a larger step than 2e-5


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    return BertTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def make_model(tokenizer):
    def make(seed: int = 0) -> SentenceBert:
        torch.manual_seed(seed)
        config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                            max_position_embeddings=64)
        model = SentenceBert(BertModel(config), tokenizer, pooling="mean", normalize=False, max_seq_length=32)
        return model

    return make


@pytest.fixture(scope="module")
def sts_slice(data_dir):
    return stsb_regression("train", data_dir)[:40]


@pytest.fixture(scope="module")
def sick_slice(data_dir):
    return sick_classification("train", data_dir)[:36]


def params(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@torch.no_grad()
def eval_loss(objective, examples):
    objective.eval()
    return objective(examples).item()


# ----------------------------------------------------------------------------------------------------
# Learning and repeatability


def test_seeded_run_lowers_the_loss_and_repeats_exactly(make_model, sts_slice):
    runs = []
    for _ in range(2):
        objective = RegressionObjective(make_model())
        before = eval_loss(objective, sts_slice)
        state = train(objective, sts_slice, TrainConfig(epochs=3, seed=7, **FAST))
        after = eval_loss(objective, sts_slice)
        assert after < 0.8 * before, (before, after)
        assert state.step == 3 * math.ceil(len(sts_slice) / 8) == len(state.losses)
        runs.append((state.losses, params(objective)))
    assert runs[0][0] == runs[1][0]  # identical losses, step for step
    assert all(torch.equal(runs[0][1][k], runs[1][1][k]) for k in runs[0][1])


def test_triplet_and_classification_runs_lower_the_loss(make_model, sick_slice, data_dir):
    triplets = sick_triplets("train", data_dir)[:24]
    objective = TripletObjective(make_model(), margin=1.0)
    before = eval_loss(objective, triplets)
    train(objective, triplets, TrainConfig(epochs=3, seed=1, **FAST))
    assert eval_loss(objective, triplets) < before

    torch.manual_seed(0)
    objective = ClassificationObjective(make_model(), SICK_LABELS)
    before = eval_loss(objective, sick_slice)
    train(objective, sick_slice, TrainConfig(epochs=3, seed=1, **FAST))
    assert eval_loss(objective, sick_slice) < before


def test_learning_rate_schedule_and_groups(make_model):
    """Linear warm-up over 10% of the steps, then linear decay to 0; the head gets its own rate."""
    factor = train_module.linear_warmup_then_decay(warmup_steps=10, total_steps=100)
    assert [factor(s) for s in (0, 5, 10, 55, 100)] == [0.0, 0.5, 1.0, 0.5, 0.0]
    objective = ClassificationObjective(make_model(), SICK_LABELS)
    optimizer, names = make_optimizer(objective, TrainConfig(lr=2e-5, head_lr=1e-3))
    flat = [g for g in optimizer.param_groups for _ in g["params"]]  # the group of each parameter, in order
    by_name = dict(zip(names, flat))
    assert by_name["classifier.weight"]["lr"] == 1e-3 and by_name["classifier.weight"]["weight_decay"] == 0.01
    assert by_name["classifier.bias"]["weight_decay"] == 0.0
    assert by_name["model.bert.encoder.layer.0.attention.self.query.weight"]["lr"] == 2e-5
    assert by_name["model.bert.embeddings.LayerNorm.weight"]["weight_decay"] == 0.0
    assert sorted(names) == sorted(n for n, _ in objective.named_parameters())


# ----------------------------------------------------------------------------------------------------
# Checkpoints


@pytest.mark.parametrize("stop_at", [3, 5])  # in the middle of epoch 1; exactly at its end (5 steps per epoch)
def test_resume_gives_the_same_parameters_as_one_run(make_model, sick_slice, tmp_path, stop_at):
    config = dict(epochs=2, seed=3, head_lr=5e-3, **FAST)
    sick_slice = sick_slice[:40]
    dev = sick_slice[:10]

    torch.manual_seed(0)
    whole = ClassificationObjective(make_model(), SICK_LABELS)
    whole_state = train(whole, sick_slice, TrainConfig(**config), dev=train_module.accuracy_dev(dev),
                        checkpoint_dir=tmp_path / "whole")

    torch.manual_seed(0)
    first = ClassificationObjective(make_model(), SICK_LABELS)
    part = train(first, sick_slice, TrainConfig(stop_after_steps=stop_at, **config),
                 dev=train_module.accuracy_dev(dev), checkpoint_dir=tmp_path / "split")
    assert part.step == stop_at
    # A fresh process: another initialisation and other random state; the checkpoint must restore it all.
    torch.manual_seed(123)
    second = ClassificationObjective(make_model(seed=99), SICK_LABELS)
    resumed = train(second, sick_slice, TrainConfig(**config), dev=train_module.accuracy_dev(dev),
                    checkpoint_dir=tmp_path / "split", resume=True)

    assert resumed.step == whole_state.step == 2 * 5
    assert resumed.losses == whole_state.losses
    assert resumed.dev_scores == whole_state.dev_scores
    expected = params(whole)
    got = params(second)
    assert set(got) == set(expected)
    for k in expected:
        assert torch.equal(got[k], expected[k]), k


def test_checkpoint_holds_only_safetensors_and_json(make_model, sts_slice, tmp_path):
    objective = RegressionObjective(make_model())
    train(objective, sts_slice, TrainConfig(epochs=1, checkpoint_every=2, stop_after_steps=3, **FAST),
          checkpoint_dir=tmp_path / "ckpt")
    files = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert files == ["objective.safetensors", "optimizer.safetensors", "trainer_state.json"]
    saved = json.loads((tmp_path / "ckpt" / "trainer_state.json").read_text())
    assert saved["state"]["step"] == 3 and set(saved["rng"]) == {"torch", "python", "numpy"}
    assert saved["scheduler"]["last_epoch"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # no temporary folder left behind


def test_interrupted_save_leaves_the_previous_checkpoint_whole(make_model, sts_slice, tmp_path, monkeypatch):
    folder = tmp_path / "ckpt"
    objective = RegressionObjective(make_model())
    train(objective, sts_slice, TrainConfig(epochs=1, stop_after_steps=2, **FAST), checkpoint_dir=folder)
    saved_weights = params(objective)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    # Train on, then crash in the middle of the next save: after the weights, while writing the optimizer.
    config = TrainConfig(epochs=1, **FAST)
    optimizer, names = make_optimizer(objective, config)
    with torch.no_grad():
        for p in objective.parameters():
            p.add_(1.0)
    real_save = checkpoint_module.save_tensors
    calls = []

    def crash_on_second_file(tensors, path, metadata=None):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated crash during the save")
        real_save(tensors, path, metadata)

    monkeypatch.setattr(checkpoint_module, "save_tensors", crash_on_second_file)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    run = {"examples": len(sts_slice), "batch_size": 8, "epochs": 1, "seed": 0}
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(folder, objective, optimizer, scheduler, names, train_module.TrainState(step=99), run)
    monkeypatch.undo()

    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # byte for byte the old checkpoint
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # the half-written folder was removed
    fresh = RegressionObjective(make_model(seed=5))
    optimizer, names = make_optimizer(fresh, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    state = load_checkpoint(folder, fresh, optimizer, scheduler, names, run)
    assert state.step == 2
    assert all(torch.equal(params(fresh)[k], saved_weights[k]) for k in saved_weights)


# ----------------------------------------------------------------------------------------------------
# The trained model folder


def test_output_folder_is_a_sentence_transformers_folder_with_the_head(make_model, sick_slice, tmp_path):
    torch.manual_seed(0)
    objective = ClassificationObjective(make_model(), SICK_LABELS, ("u", "v", "|u-v|", "u*v"))
    out = tmp_path / "run"
    state = train(objective, sick_slice, TrainConfig(epochs=2, head_lr=1e-2, **FAST),
                  dev=train_module.accuracy_dev(sick_slice[:12]), out=out)
    assert (out / "modules.json").is_file() and (out / "head.json").is_file()
    assert (tmp_path / "run-checkpoint" / "trainer_state.json").is_file()
    assert json.loads((out / "head.json").read_text())["labels"] == list(SICK_LABELS)

    loaded = SentenceBert.from_pretrained(out)
    st = SentenceTransformer(str(out), device="cpu")
    texts = [e.a for e in sick_slice[:4]]
    ours_vectors = torch.as_tensor(loaded.encode(texts))
    assert (ours_vectors - torch.as_tensor(st.encode(texts))).abs().max().item() < 1e-5
    head = ClassificationObjective.load_head(loaded, out)
    pairs = [(e.a, e.b) for e in sick_slice[:12]]
    assert len(state.dev_scores) == 2 and state.best_score == max(state.dev_scores)
    assert 100 * sum(p == e.label for p, e in zip(head.predict(pairs), sick_slice[:12])) / 12 == state.best_score


def test_out_refuses_a_folder_that_is_not_a_model(make_model, sts_slice, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a model folder"):
        train(RegressionObjective(make_model()), sts_slice, TrainConfig(**FAST), out=tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


# ----------------------------------------------------------------------------------------------------
# Bad input: a clear error before any training step


@pytest.fixture
def never_steps(monkeypatch):
    """Fail the test if an optimizer step is taken."""

    def step(*args, **kwargs):
        raise AssertionError("a training step was taken before the input was checked")

    monkeypatch.setattr(torch.optim.AdamW, "step", step)


def test_bad_inputs_fail_before_any_step(make_model, never_steps):
    model = make_model()
    good = [PairExample("a man", "a woman", 0.4)] * 3
    config = TrainConfig(**FAST)

    with pytest.raises(ValueError, match="not one of the labels"):
        train(ClassificationObjective(model, SICK_LABELS), good[:2] + [PairExample("a", "b", "MAYBE")], config)
    with pytest.raises(ValueError, match=r"examples\[2\]\.label = nan"):
        train(RegressionObjective(model), good[:2] + [PairExample("a", "b", float("nan"))], config)
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        train(RegressionObjective(model), [PairExample("a", "b", 4.2)], config)
    with pytest.raises(ValueError, match="examples is empty"):
        train(RegressionObjective(model), [], config)
    with pytest.raises(TypeError, match=r"examples\[0\]\.b must be a str"):
        train(RegressionObjective(model), [PairExample("a", None, 0.5)], config)
    with pytest.raises(TypeError, match="TripletExample"):
        train(TripletObjective(model), good, config)
    with pytest.raises(ValueError, match="sentences_b has 2 entries but sentences_a has 3"):
        make_pairs(["a", "b", "c"], ["x", "y"], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="labels has 1 entries"):
        make_pairs(["a", "b"], ["x", "y"], [0.1])
    with pytest.raises(ValueError, match="negatives has 1 entries"):
        make_triplets(["a", "b"], ["x", "y"], ["n"])
    with pytest.raises(ValueError, match="batch_size"):
        train(RegressionObjective(model), good, TrainConfig(batch_size=0))
    with pytest.raises(ValueError, match="lr"):
        train(RegressionObjective(model), good, TrainConfig(lr=float("nan")))


def test_cli_trains_and_reports(make_model, tmp_path, data_dir, capsys):
    folder = tmp_path / "tiny"
    make_model().save(folder)
    out = tmp_path / "runs" / "sick"
    code = main(["train", "--objective", "classification", "--data", "sick", "--model", str(folder),
                 "--epochs", "1", "--out", str(out), "--limit", "24", "--max-seq-length", "24",
                 "--head-lr", "1e-2", "--data-dir", str(data_dir), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "dev accuracy" in printed
    assert (out / "head.safetensors").is_file() and (out / "modules.json").is_file()

    code = main(["train", "--objective", "triplet", "--data", "stsb", "--model", str(folder), "--out", str(out)])
    assert code == 2
    assert "triplet" in capsys.readouterr().err
