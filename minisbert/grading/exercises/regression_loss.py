"""Exercise 9, SBERT's regression objective: the mean squared error of cos(u, v) against the gold score."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...objectives import RegressionObjective
from ..compare import case, check_loss
from ..context import Context
from ..exercise import Exercise
from ..references import pair_vectors
from ..student import Student


def check(student: Student, ctx: Context) -> list[str]:
    def run(u, v, scores, what):
        cos = F.cosine_similarity(u, v, dim=-1)
        wrongs = [
            ("cosine similarity, not the dot product: divide u·v by ‖u‖ ‖v‖", lambda: F.mse_loss((u * v).sum(-1), scores)),
            ("the loss is the mean squared error, not the sum", lambda: ((cos - scores) ** 2).sum()),
            ("squared error, not absolute error", lambda: (cos - scores).abs().mean()),
            ("the model's score is the cosine similarity, not the cosine distance 1 − cos", lambda: F.mse_loss(1 - cos, scores)),
            ("the error is squared: (cos − score)², averaged", lambda: (cos - scores).mean()),
        ]
        reference = lambda u, v, scores: RegressionObjective(None).loss_from_embeddings(u, v, scores)
        return check_loss(student, "regression_loss", (u, v, scores), (0, 1), reference, what, wrongs=wrongs,
                          usual="mean over the batch of (cos(u, v) − score)²")

    g = torch.Generator().manual_seed(10)
    u, v = 3 * torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    d1 = case("random inputs (N=6, H=8)", lambda: run(u, v, torch.rand(6, generator=g), "regression_loss"))
    case("a batch of one pair (N=1)", lambda: run(u[:1], v[:1], torch.rand(1, generator=g), "regression_loss"))
    u, v = pair_vectors(ctx, normalize=False)
    scores = torch.tensor([s for _, _, s in ctx.pairs])
    d2 = case(f"all-MiniLM-L6-v2 vectors (not normalised) and gold scores of {len(u)} pairs ({ctx.data})",
               lambda: run(u, v, scores, "regression_loss"))
    return [f"|Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2 vectors"]


EXERCISE = Exercise(
    "regression_loss", ('regression_loss',), "minisbert/objectives.py: RegressionObjective.loss_from_embeddings",
    "notebooks/05_objectives.py", check,
    params={'regression_loss': ('u', 'v', 'scores')},
    builtins=(),
)
