"""Exercise 11, BERT's masking for the masked language model: 15%, then 80/10/10."""

from __future__ import annotations

import math

import torch

from ...masking import (
    MASK_PROBABILITY,
    MLM_PROBABILITY,
    RANDOM_PROBABILITY,
    mask_tokens,
)
from ..compare import case
from ..context import Context
from ..exercise import Exercise
from ..results import Fail
from ..student import Student

MASK_TOKEN_ID = 103  # [MASK] in the uncased BERT vocabulary (exercises/mlm_mask.py says so too)


def check(student: Student, ctx: Context) -> list[str]:
    """Any correct masking passes, whatever order it draws in: the grader checks the rules that always hold,
    then the proportions over 200,000 tokens, then that the draws come from ``generator``."""
    def call(ids, special, vocab_size, seed):
        out = student("mlm_mask", ids, special, vocab_size, torch.Generator().manual_seed(seed))
        if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
            raise Fail(f"returned {type(out).__name__}, expected a tuple (inputs, labels) of two tensors")
        inputs, labels = out
        for name, t in (("inputs", inputs), ("labels", labels)):
            if t.shape != ids.shape:
                raise Fail(f"{name}: wrong shape", [f"shape: yours {tuple(t.shape)}, expected {tuple(ids.shape)}"])
            if t.dtype.is_floating_point:
                raise Fail(f"{name}: holds {t.dtype}, expected integer token ids (torch.long)")
        return inputs, labels

    def rules(ids, special, inputs, labels, what):
        if special.any() and not (labels[special] == -100).any():
            b, t = (int(i) for i in special.nonzero()[0])
            filler = int(labels[b, t])
            hint = ("a label of 0 is the class [PAD]: cross_entropy learns it; -100 is the index it ignores"
                    if bool((labels[special] == 0).all()) else "cross_entropy ignores the index -100, and only it")
            raise Fail(f"{what}: the tokens that are not selected have label {filler}, not -100", [
                f"at [{b}, {t}] (a special token, never selected) the label is {filler}",
                f"hint: labels are -100 wherever a token is not selected: {hint}"])
        selected = labels != -100
        if (selected & special).any():
            b, t = (int(i) for i in (selected & special).nonzero()[0])
            raise Fail(f"{what}: a special token was selected", [
                f"at [{b}, {t}] (id {int(ids[b, t])}), special_mask is True but the label is {int(labels[b, t])}",
                "hint: [CLS], [SEP] and [PAD] are never selected: give them probability 0"])
        if not (labels[selected] == ids[selected]).all():
            b, t = (int(i) for i in (selected & (labels != ids)).nonzero()[0])
            raise Fail(f"{what}: a label is not the original token", [
                f"at [{b}, {t}]: label {int(labels[b, t])}, original token {int(ids[b, t])}",
                "hint: labels hold the original id where a token is selected and -100 everywhere else"])
        changed = (inputs != ids) & ~selected
        if changed.any():
            b, t = (int(i) for i in changed.nonzero()[0])
            hint = ("labels are -100 where nothing was selected: a token you changed must carry its label"
                    if (labels == -100).all() or (inputs[~selected] == MASK_TOKEN_ID).any()
                    else "only the selected tokens (label != -100) may change")
            raise Fail(f"{what}: a token that is not selected was changed",
                       [f"at [{b}, {t}]: {int(ids[b, t])} became {int(inputs[b, t])}, its label is -100", f"hint: {hint}"])

    # 1. The rules, on real sentences
    batch = ctx.batch(16)
    special = torch.isin(batch["input_ids"], torch.tensor(sorted(ctx.tokenizer.special_ids)))
    ids = batch["input_ids"]
    original = ids.clone()
    V = ctx.tokenizer.vocab_size
    what = f"all-MiniLM-L6-v2 tokens of {len(ids)} sentences ({ctx.data})"
    inputs, labels = case(what, lambda: call(ids, special, V, 0))
    rules(ids, special, inputs, labels, what)
    if not torch.equal(ids, original):
        raise Fail("input_ids was modified in place", ["hint: work on a copy (input_ids.clone())"])

    # 2. The proportions, on 200,000 tokens: far more than enough to tell 80/10/10 from a mistake
    g = torch.Generator().manual_seed(12)
    B, T = 400, 500
    ids = torch.randint(1000, V, (B, T), generator=g)  # no special ids among them
    special = torch.zeros(B, T, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    special[::3, -40:] = True  # padding at the end of every third row
    inputs, labels = case(f"random ids ({B}×{T})", lambda: call(ids, special, V, 1))
    rules(ids, special, inputs, labels, f"random ids ({B}×{T})")
    selected = labels != -100
    n_real = int((~special).sum())
    n_sel = int(selected.sum())
    share = n_sel / n_real
    masked = int((inputs[selected] == MASK_TOKEN_ID).sum()) / max(n_sel, 1)
    kept = int((inputs[selected] == ids[selected]).sum()) / max(n_sel, 1)
    random = 1 - masked - kept
    replaced = inputs[selected & (inputs != ids) & (inputs != MASK_TOKEN_ID)]

    def within(x, p, n):  # 6 standard deviations of a binomial share: a right answer fails once in 10^9 runs
        return abs(x - p) <= 6 * math.sqrt(p * (1 - p) / max(n, 1))

    table = (f"selected {share:.1%} of the non-special tokens (expected 15%); of those [MASK] {masked:.1%} "
             f"(80%), random {random:.1%} (10%), unchanged {kept:.1%} (10%)")
    if not within(share, MLM_PROBABILITY, n_real):
        raise Fail("the share of selected tokens is wrong",
                   [table, "hint: select each non-special token on its own, with probability 0.15"])
    if not (within(masked, MASK_PROBABILITY, n_sel) and within(random, RANDOM_PROBABILITY, n_sel)):
        if masked > 0.99:
            hint = "not every selected token becomes [MASK]: 80% [MASK], 10% a random token, 10% left as they are"
        elif within(random, 0.2 * RANDOM_PROBABILITY, n_sel):
            hint = ("of the 20% that are not [MASK], half (not 10% of them) get a random token: 0.1 / (1 − 0.8) = 0.5")
        else:
            hint = "80% of the selected become [MASK] (id 103), 10% a random id in [0, vocab_size), 10% stay"
        raise Fail("the 80/10/10 split is wrong", [table, f"hint: {hint}"])
    if replaced.numel() and (replaced.float().std() < V / 6 or int(replaced.max()) >= V or int(replaced.min()) < 0):
        raise Fail("the random tokens are not uniform over the vocabulary",
                   [f"their ids range from {int(replaced.min())} to {int(replaced.max())}, std {float(replaced.float().std()):.0f} "
                    f"(uniform over [0, {V}) has std {V / math.sqrt(12):.0f})",
                    "hint: draw them with torch.randint(vocab_size, ..., generator=generator)"])

    # 3. The draws come from the generator: the same seed gives the same masks, another seed others
    again = call(ids, special, V, 1)
    other = call(ids, special, V, 2)
    if not (torch.equal(again[0], inputs) and torch.equal(again[1], labels)):
        raise Fail("two calls with generators seeded alike gave different masks",
                   ["hint: pass generator=generator to every random draw (torch.bernoulli, torch.rand, torch.randint)"])
    if torch.equal(other[1], labels):
        raise Fail("another seed gave the same masks", ["hint: draw from the generator you are given"])
    same = mask_tokens(ids, special, V, MASK_TOKEN_ID, torch.Generator().manual_seed(1))
    note = (" and, draw for draw, the same masks as the library (and transformers' collator)"
            if torch.equal(same[0], inputs) and torch.equal(same[1], labels) else
            " (the library draws in another order, so its masks differ from yours: both are right)")
    return [table, f"special tokens never selected, labels right, repeatable with the generator{note}"]


EXERCISE = Exercise(
    "mlm_mask", ('mlm_mask',), "minisbert/masking.py: mask_tokens",
    "notebooks/07_pretraining_bert.py", check,
    params={'mlm_mask': ('input_ids', 'special_mask', 'vocab_size', 'generator')},
    builtins=(),
)
