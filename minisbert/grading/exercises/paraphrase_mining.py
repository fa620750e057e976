"""Exercise 12, paraphrase mining: each sentence's top_k partners by cosine similarity, best first."""

from __future__ import annotations

import torch

from ...similarity import paraphrase_mining
from ..compare import _short, case
from ..context import Context
from ..exercise import Exercise
from ..results import Fail
from ..student import Student, type_name


def check(student: Student, ctx: Context) -> list[str]:
    def run(emb, top_k, what):
        want = paraphrase_mining(emb, top_k=top_k)
        got = student("paraphrase_mining", emb, top_k)
        if not isinstance(got, list):
            raise Fail(f"{what}: returned a {type_name(got)}, expected a list of (score, i, j) tuples")
        for item in got:
            if not (isinstance(item, tuple) and len(item) == 3):
                raise Fail(f"{what}: an item is {_short(repr(item))} (a {type_name(item)}), expected a tuple (score, i, j)")
            s, i, j = item
            if not (isinstance(s, float) and isinstance(i, int) and isinstance(j, int)) or isinstance(i, bool) \
                    or isinstance(j, bool):
                raise Fail(f"{what}: an item holds ({type_name(s)}, {type_name(i)}, {type_name(j)}), expected "
                           "(float, int, int)", ["hint: the score is a Python float and i, j are Python ints; a 0-d "
                                                 "tensor is not one: .item() or .tolist() gives the numbers"])
        n = len(emb)
        if any(i == j for _, i, j in got):
            raise Fail(f"{what}: a sentence is paired with itself", ["hint: leave out the diagonal (i == j) of the score matrix"])
        if any(i > j for _, i, j in got):
            raise Fail(f"{what}: a pair has i > j", ["hint: write each pair once, as (score, i, j) with i < j"])
        if len(set((i, j) for _, i, j in got)) < len(got):
            raise Fail(f"{what}: a pair appears twice",
                       ["hint: a pair found from both of its sentences, (i, j) and (j, i), is kept once"])
        scores = [s for s, _, _ in got]
        if scores != sorted(scores, reverse=True):
            raise Fail(f"{what}: the pairs are not sorted best first", ["hint: sort by score, highest first"])
        theirs, ours = {(i, j): s for s, i, j in got}, {(i, j): s for s, i, j in want}
        missing, extra = sorted(set(ours) - set(theirs), key=lambda p: -ours[p]), sorted(set(theirs) - set(ours))
        if missing or extra:
            details = [f"yours has {len(got)} pairs, expected {len(want)}"]
            if missing:
                details.append(f"missing: pair {missing[0]} (score {ours[missing[0]]:.4f})")
            if extra:
                details.append(f"not expected: pair {extra[0]} (score {theirs[extra[0]]:.4f})")
            dot = {(min(i, j), max(i, j)) for i in range(n) for j in range(n) if i != j}
            norms = emb.norm(dim=1)
            if len(got) == min(top_k, len(want)) < len(want):
                hint = "top_k is per sentence: each sentence contributes its top_k best partners, not top_k pairs in all"
            elif len(got) == len(dot) > len(want):
                hint = "keep only each sentence's top_k best partners (a pair stays when either sentence picked the other)"
            elif not torch.allclose(norms, torch.ones_like(norms)) and extra:
                hint = "score with the cosine similarity (normalise the vectors first), not the dot product"
            else:
                hint = "for each sentence, its top_k others by cosine similarity; a pair is kept once, as (i, j) with i < j"
            raise Fail(f"{what}: not the same pairs", details + [f"hint: {hint}"])
        worst = max(abs(theirs[p] - ours[p]) for p in ours) if ours else 0.0
        if worst > 1e-5:
            p = max(ours, key=lambda q: abs(theirs[q] - ours[q]))
            raise Fail(f"{what}: scores differ", [f"pair {p}: yours {theirs[p]:.6f}, expected {ours[p]:.6f}",
                                                   "hint: the score is the cosine similarity of the two vectors"])
        return len(want)

    g = torch.Generator().manual_seed(13)
    emb = 2 * torch.randn(12, 8, generator=g)
    n1 = case("random vectors (12 × 8, top_k 2)", lambda: run(emb, 2, "paraphrase_mining"))
    case("two sentences (n = 2, top_k 1: one pair)", lambda: run(emb[:2], 1, "paraphrase_mining"))
    emb = ctx.sbert.encode(ctx.sentences, convert_to="torch", progress=False)
    n2 = case(f"all-MiniLM-L6-v2 vectors of {len(emb)} sentences ({ctx.data}; top_k 3)", lambda: run(emb, 3, "paraphrase_mining"))
    return [f"the same {n1} and {n2} pairs as the library, best first, scores within 1e-5"]


EXERCISE = Exercise(
    "paraphrase_mining", ('paraphrase_mining',), "minisbert/similarity.py: paraphrase_mining",
    "notebooks/04_siamese_and_pooling.py", check,
    params={'paraphrase_mining': ('embeddings', 'top_k')},
    builtins=(),
)
