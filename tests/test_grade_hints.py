"""Hints that name the mistake, or none: every catalogued wrong answer gets its own hint and no other's;
an answer that matches no catalogued mistake gets what differs and the rule, and no hint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from minisbert import grading as grade

_wrong = grade.load_file(Path(__file__).resolve().parent / "grade_solutions" / "wrong.py")
WRONG, pool = _wrong.WRONG, _wrong.pool


@pytest.fixture(scope="module")
def context(real_sbert):
    return grade.Context(real_sbert)


@pytest.mark.fast
@pytest.mark.parametrize("name, mistake, functions, hint", WRONG, ids=[f"{w[0]}: {w[1]}" for w in WRONG])
def test_a_wrong_answer_gets_its_own_hint_and_no_other(context, name, mistake, functions, hint):
    result = grade.grade_functions(name, functions, context)
    assert result.status == grade.FAIL, grade.format_result(result)
    assert hint in result.hint, grade.format_result(result)
    others = {h for n, m, _, h in WRONG if n == name and h != hint and h not in hint}
    assert not [h for h in others if h in result.hint], grade.format_result(result)


@pytest.mark.fast
def test_an_answer_that_is_no_known_mistake_gets_the_rule_and_no_hint(context):
    doubled = {"mean_pool": lambda h, m: 2 * pool.mean_pool(h, m), "max_pool": pool.max_pool, "cls_pool": pool.cls_pool}
    result = grade.grade_functions("pooling", doubled, context)
    assert result.status == grade.FAIL
    assert result.hint == "" and not any(d.startswith("hint: ") for d in result.details)
    assert any(d.startswith("first difference at [") and "max |Δ|" in d for d in result.details)
    assert any(d.startswith("rule: ") for d in result.details)

    shifted = {"triplet_loss": lambda a, p, n, margin: torch.relu((a - p).norm(dim=-1) - (a - n).norm(dim=-1) + margin).mean() + 0.5}
    result = grade.grade_functions("triplet_loss", shifted, context)
    assert result.status == grade.FAIL and result.hint == ""
    assert "rule: mean over the batch of max(‖a − p‖ − ‖a − n‖ + margin, 0)" in result.details


@pytest.mark.fast
def test_a_loss_is_checked_through_its_gradients(context):
    # The right value, but the gradient with respect to v is cut: training would not move v's encoder.
    def half_detached(a, p, n, margin):
        return torch.relu((a - p.detach()).norm(dim=-1) - (a - n).norm(dim=-1) + margin).mean()

    result = grade.grade_functions("triplet_loss", {"triplet_loss": half_detached}, context)
    assert result.status == grade.FAIL, grade.format_result(result)
    assert "no gradient reaches p" in result.summary


@pytest.mark.fast
def test_every_return_type_is_named_when_wrong(context):
    import numpy as np

    cases = {
        "pooling": ({"mean_pool": lambda h, m: pool.mean_pool(h, m).numpy(), "max_pool": pool.max_pool,
                     "cls_pool": pool.cls_pool}, "expected a torch.Tensor of shape"),
        "regression_loss": ({"regression_loss": lambda u, v, s: torch.nn.functional.mse_loss(
            torch.cosine_similarity(u, v), s).reshape(1)}, "expected a scalar torch.Tensor (shape ())"),
        "wordpiece": ({"wordpiece": lambda w, v: tuple(w)}, "expected a list of str"),
        "paraphrase_mining": ({"paraphrase_mining": lambda e, k: np.zeros(3)}, "expected a list of (score, i, j) tuples"),
        "mlm_mask": ({"mlm_mask": lambda ids, s, v, g: [ids.clone(), ids.clone()]}, "expected a tuple (inputs, labels)"),
    }
    for name, (functions, expected) in cases.items():
        result = grade.grade_functions(name, functions, context)
        assert result.status == grade.FAIL, grade.format_result(result)
        assert expected in result.summary, grade.format_result(result)


def _stage(result) -> str:
    return next((d for d in result.details if d.startswith("stage: ")), "")


@pytest.mark.fast
def test_multi_part_answers_say_which_stage_first_differs(context):
    by_mistake = {m: (n, f) for n, m, f, _ in WRONG}
    expected = {
        "heads split without the transpose": "the head split and merge: differs first",
        "√H instead of √d": "the per-head scores (q·kᵀ/√d, the mask, the softmax over the keys): differs first",
        "no output projection": "same as the library; the output projection (attention.output.dense): differs first",
        "tanh GELU": "same as the library; the feed-forward, W2·gelu(W1·a): differs first",
        "pre-LayerNorm": "the residual + LayerNorm (both sub-layers at zero): differs first",
    }
    for mistake, stage in expected.items():
        name, functions = by_mistake[mistake]
        result = grade.grade_functions(name, functions, context)
        assert stage in _stage(result), grade.format_result(result)


@pytest.mark.fast
def test_every_docstring_promise_is_graded(context):
    """Each wrong answer here breaks one promise of its exercise's docstring and nothing else."""
    basic = _wrong.basic
    squeezed = lambda h, m: pool.mean_pool(h, m).squeeze()  # (1, H) becomes (H,) for a batch of one
    promises = [
        ("pooling", "an all-padding row gives 0, not NaN", _wrong._pooling(mean_pool=_wrong.mean_without_clamp),
         "an all-padding row"),
        ("pooling", "(B, T, H) -> (B, H) for a batch of one sentence of one token", _wrong._pooling(mean_pool=squeezed),
         "a batch of one sentence of one token"),
        ("wordpiece", "a word longer than 100 characters is [UNK] (and one of exactly 100 is not)",
         {"wordpiece": _wrong.wordpiece_unk_at_100}, "vocabulary"),
        ("basic_tokenize", "text may be empty: no empty strings", {"basic_tokenize": lambda t: basic.basic_tokenize(t) or [""]},
         "edge cases"),
        ("mlm_mask", "do not modify input_ids", {"mlm_mask": _wrong.mask_in_place}, "changed its input in place"),
        ("triplet_loss", "a scalar tensor", {"triplet_loss": _wrong.triplet_as_float}, "expected a scalar torch.Tensor"),
        ("paraphrase_mining", "score a float, i < j ints", {"paraphrase_mining": _wrong.mining_tensor_scores},
         "expected (float, int, int)"),
    ]
    for name, promise, functions, where in promises:
        result = grade.grade_functions(name, functions, context)
        assert result.status == grade.FAIL, (promise, grade.format_result(result))
        assert where in result.summary, (promise, grade.format_result(result))
