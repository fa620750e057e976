"""Exercise 10, SBERT's triplet objective: max(‖a − p‖ − ‖a − n‖ + margin, 0), averaged."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...objectives import TripletObjective
from ..compare import case, check_loss
from ..context import Context
from ..exercise import Exercise
from ..references import pair_vectors
from ..student import Student


def check(student: Student, ctx: Context) -> list[str]:
    def run(a, p, n, margin, what):
        dp, dn = (a - p).norm(dim=-1), (a - n).norm(dim=-1)
        cos_d = lambda x, y: 1 - F.cosine_similarity(x, y, dim=-1)
        wrongs = [
            ("the distance is the Euclidean norm ‖a − p‖, not its square", lambda: F.relu((a - p).pow(2).sum(-1) - (a - n).pow(2).sum(-1) + margin).mean()),
            ("max(·, 0) is missing: a triplet already satisfied by the margin contributes 0, not a negative loss",
             lambda: (dp - dn + margin).mean()),
            ("use the margin argument", lambda: F.relu(dp - dn + 1.0).mean()),
            ("use the margin argument (5 is sentence-transformers' default, the paper's is 1)", lambda: F.relu(dp - dn + 5.0).mean()),
            ("the positive must end up closer: ‖a − p‖ − ‖a − n‖ + margin, not the other way round",
             lambda: F.relu(dn - dp + margin).mean()),
            ("the loss is the mean over the batch, not the sum", lambda: F.relu(dp - dn + margin).sum()),
            ("the paper's triplet objective uses the Euclidean distance, not the cosine distance",
             lambda: F.relu(cos_d(a, p) - cos_d(a, n) + margin).mean()),
        ]
        reference = lambda a, p, n, margin: TripletObjective(None, "euclidean", margin).loss_from_embeddings(a, p, n)
        return check_loss(student, "triplet_loss", (a, p, n, margin), (0, 1, 2), reference, what, wrongs=wrongs,
                          usual="mean over the batch of max(‖a − p‖ − ‖a − n‖ + margin, 0)")

    g = torch.Generator().manual_seed(11)
    a, p, n = (torch.randn(8, 6, generator=g) for _ in range(3))
    d1 = case("random inputs (N=8, H=6, margin 0.5)", lambda: run(a, p, n, 0.5, "triplet_loss"))
    case("a batch of one triplet (N=1)", lambda: run(a[:1], p[:1], n[:1], 0.5, "triplet_loss"))
    # a triplet already satisfied by the margin contributes 0 (the docstring's promise)
    case("triplets already satisfied by the margin (loss 0)", lambda: run(a, a + 0.01, a + 10.0, 1.0, "triplet_loss"))
    u, v = pair_vectors(ctx, normalize=True)
    d2 = case(f"all-MiniLM-L6-v2 vectors: anchor, its pair, another pair's sentence ({ctx.data}; margin 1)",
               lambda: run(u, v, v.roll(1, dims=0), 1.0, "triplet_loss"))
    return [f"|Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2 vectors"]


EXERCISE = Exercise(
    "triplet_loss", ('triplet_loss',), "minisbert/objectives.py: TripletObjective.loss_from_embeddings",
    "notebooks/05_objectives.py", check,
    params={'triplet_loss': ('a', 'p', 'n', 'margin')},
    builtins=('triplet_margin_loss', 'TripletMarginLoss', 'triplet_margin_with_distance_loss'),
)
