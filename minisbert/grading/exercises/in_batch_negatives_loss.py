"""Exercise 13, in-batch negatives: cross-entropy over scale · cos(anchor, every candidate of the batch),
with each anchor's own positive (the diagonal) as the label."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...objectives import MultipleNegativesRankingObjective
from ..compare import case, check_loss
from ..context import Context
from ..exercise import Exercise
from ..references import pair_vectors
from ..student import Student


def check(student: Student, ctx: Context) -> list[str]:
    def run(a, p, n, scale, what):
        B = a.shape[0]
        candidates = p if n is None else torch.cat([p, n])  # (B, H) or (2B, H)
        cos = F.normalize(a, dim=-1) @ F.normalize(candidates, dim=-1).T  # (B, B) or (B, 2B)
        labels = torch.arange(B)
        wrongs = [
            ("the label of anchor i is i, its own positive on the diagonal, not column 0 for every row",
             lambda: F.cross_entropy(scale * cos, torch.zeros(B, dtype=torch.long))),
            ("multiply the cosines by scale before the softmax: without it the scores lie in [−1, 1] and the "
             "softmax is nearly uniform", lambda: F.cross_entropy(cos, labels)),
            ("every other anchor's positive is a negative too: score each anchor against all B positives "
             "(and the hard negatives), not only against its own positive and the hard-negative column",
             lambda: F.cross_entropy(scale * torch.cat([cos[:, :B].diagonal()[:, None], cos[:, B:]], dim=1),
                                     torch.zeros(B, dtype=torch.long))),
            ("the scores are cosine similarities: normalise the rows before the dot product",
             lambda: F.cross_entropy(scale * a @ candidates.T, labels)),
            ("the loss is the mean over the anchors, not the sum",
             lambda: F.cross_entropy(scale * cos, labels, reduction="sum")),
        ]
        args, grad = ((a, p, None, scale), (0, 1)) if n is None else ((a, p, n, scale), (0, 1, 2))
        reference = lambda a, p, n, scale: MultipleNegativesRankingObjective(None, scale=scale).loss_from_embeddings(
            *((a, p) if n is None else (a, p, n)))
        return check_loss(student, "in_batch_negatives_loss", args, grad, reference, what, wrongs=wrongs,
                          usual="mean over the anchors of cross_entropy(scale · cos(a_i, [p; n]), label i)")

    g = torch.Generator().manual_seed(13)
    a, p, n = (torch.randn(6, 8, generator=g) for _ in range(3))
    d1 = case("random inputs (B=6, H=8, scale 20), with hard negatives", lambda: run(a, p, n, 20.0, "in_batch_negatives_loss"))
    case("random inputs without hard negatives (n=None)", lambda: run(a, p, None, 20.0, "in_batch_negatives_loss"))
    case("a batch of two (the smallest with an in-batch negative), scale 1", lambda: run(a[:2], p[:2], n[:2], 1.0, "in_batch_negatives_loss"))
    u, v = pair_vectors(ctx, normalize=True)
    d2 = case(f"all-MiniLM-L6-v2 vectors: sentence pairs as (anchor, positive), another pair as the hard negative ({ctx.data})",
              lambda: run(u, v, v.roll(1, dims=0), 20.0, "in_batch_negatives_loss"))
    return [f"|Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2 vectors"]


EXERCISE = Exercise(
    "in_batch_negatives_loss", ("in_batch_negatives_loss",),
    "minisbert/objectives.py: MultipleNegativesRankingObjective.loss_from_embeddings",
    "notebooks/08_after_sbert.py", check,
    params={"in_batch_negatives_loss": ("a", "p", "n", "scale")},
    builtins=(),
)
