"""Exercise 8, SBERT's classification objective: softmax(W·[u; v; |u − v|]) with cross-entropy."""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F

from ...objectives import ClassificationObjective
from ..compare import case, check_loss
from ..context import Context
from ..exercise import Exercise
from ..references import pair_vectors
from ..student import Student


def check(student: Student, ctx: Context) -> list[str]:
    def run(u, v, weight, bias, labels, what):
        logits = lambda f: F.linear(f, weight, bias)
        wrongs = [
            ("the third part is |u − v|, the element-wise absolute difference: without abs() the feature is not "
             "symmetric in u and v", lambda: F.cross_entropy(logits(torch.cat([u, v, u - v], 1)), labels)),
            ("the features are [u; v; |u − v|] (u ∗ v is not part of the paper's default)",
             lambda: F.cross_entropy(logits(torch.cat([u, v, u * v], 1)), labels)),
            ("the order is u, v, |u − v|: it must match the columns of W",
             lambda: F.cross_entropy(logits(torch.cat([(u - v).abs(), u, v], 1)), labels)),
            ("cross_entropy takes the raw logits and applies log-softmax itself: do not softmax first",
             lambda: F.cross_entropy(logits(torch.cat([u, v, (u - v).abs()], 1)).softmax(-1), labels)),
            ("the loss is the mean over the batch, not the sum",
             lambda: F.cross_entropy(logits(torch.cat([u, v, (u - v).abs()], 1)), labels, reduction="sum")),
        ]

        def reference(u, v, weight, bias, labels):  # the library's objective, holding the given W and b
            objective = ClassificationObjective(types.SimpleNamespace(dim=u.shape[1]), [str(i) for i in range(len(bias))])
            del objective.classifier.weight, objective.classifier.bias
            objective.classifier.weight, objective.classifier.bias = weight, bias  # plain tensors: in the graph
            return objective.loss_from_embeddings(u, v, labels)

        return check_loss(student, "classification_loss", (u, v, weight, bias, labels), (0, 1, 2, 3), reference, what,
                          wrongs=wrongs, usual="logits = [u; v; |u − v|] · Wᵀ + b, then the mean cross-entropy against the labels")

    g = torch.Generator().manual_seed(9)
    N, H, k = 6, 8, 3
    u, v = torch.randn(N, H, generator=g), torch.randn(N, H, generator=g)
    w, b = torch.randn(k, 3 * H, generator=g), torch.randn(k, generator=g)
    labels = torch.randint(k, (N,), generator=g)
    d1 = case(f"random inputs (N={N}, H={H}, {k} labels)", lambda: run(u, v, w, b, labels, "classification_loss"))
    case("a batch of one pair (N=1)", lambda: run(u[:1], v[:1], w, b, labels[:1], "classification_loss"))
    u, v = pair_vectors(ctx, normalize=False)
    H = u.shape[1]
    w, b = 0.1 * torch.randn(k, 3 * H, generator=g), torch.randn(k, generator=g)
    labels = torch.randint(k, (len(u),), generator=g)
    d2 = case(f"all-MiniLM-L6-v2 vectors of {len(u)} sentence pairs ({ctx.data})",
               lambda: run(u, v, w, b, labels, "classification_loss"))
    return [f"|Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2 vectors"]


EXERCISE = Exercise(
    "classification_loss", ('classification_loss',), "minisbert/objectives.py: ClassificationObjective.loss_from_embeddings",
    "notebooks/05_objectives.py", check,
    params={'classification_loss': ('u', 'v', 'weight', 'bias', 'labels')},
    builtins=(),
)
