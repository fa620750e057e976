"""Exercise 7, pooling: mean, max and CLS over the real tokens."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...pooling import cls_pooling, max_pooling, mean_pooling
from ..compare import case, check_tensor
from ..context import Context
from ..exercise import Exercise
from ..student import Student


def check(student: Student, ctx: Context) -> list[str]:
    def run(x, mask, what, names=("mean_pool", "max_pool", "cls_pool")):
        m = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
        lengths = mask.sum(1)
        wrongs = {
            "mean_pool": [
                ("the mean includes the padding: sum over the real tokens only (multiply by the mask) and divide by "
                 "their number, mask.sum(1)", lambda: x.mean(1)),
                ("divide by the number of real tokens, mask.sum(1), not by T", lambda: (x * m).sum(1) / x.shape[1]),
                ("clamp the count at 1e-9 before dividing: an all-padding row has 0 real tokens, and 0 / 0 is NaN",
                 lambda: (x * m).sum(1) / m.sum(1)),
                ("the token vectors are normalised before the mean: mean pooling averages BERT's vectors as they are "
                 "(normalising the sentence vector, if wanted, comes after pooling)",
                 lambda: (F.normalize(x, dim=-1) * m).sum(1) / m.sum(1).clamp(min=1e-9)),
            ],
            "max_pool": [
                ("padding wins the max: set padded positions to -inf (not 0) before taking the max",
                 lambda: x.masked_fill(m == 0, 0.0).max(1).values),
                ("the padding is not masked: padded positions can win the max; set them to -inf first", lambda: x.max(1).values),
            ],
            "cls_pool": [
                ("CLS pooling takes the first token, [CLS], at position 0", lambda: x[torch.arange(len(x)), lengths - 1]),
                ("CLS pooling takes the first token, [CLS], at position 0", lambda: x[:, -1]),
                ("CLS pooling takes one token, the first, not a mean", lambda: (x * m).sum(1) / m.sum(1)),
                ("[CLS] is the first token, index 0: index 1 is the first word of the sentence", lambda: x[:, 1]),
            ],
        }
        out = []
        for name, ref in (("mean_pool", mean_pooling), ("max_pool", max_pooling), ("cls_pool", cls_pooling)):
            if name not in names:
                continue
            got = student(name, x, mask)
            out.append(check_tensor(got, ref(x, mask), f"{name}", wrongs=wrongs[name],
                                    usual="pool over the real tokens only (attention_mask == 1)"))
        return max(out)

    g = torch.Generator().manual_seed(8)
    B, T, H = 4, 6, 8
    x = torch.randn(B, T, H, generator=g)
    x[:, :, :3] = -x[:, :, :3].abs() - 0.5  # in 3 dimensions every real token is negative: a 0 would win the max
    mask = (torch.arange(T)[None, :] < torch.tensor([6, 4, 2, 3])[:, None]).long()  # (B, T)
    x[mask == 0] = x[mask == 0].abs() + 2.0  # padding holds large values, as a [PAD] vector may
    d1 = case(f"random inputs (B={B}, T={T}, H={H}, padded rows)", lambda: run(x, mask, "pooling"))
    # The docstrings' promises: an all-padding row gives 0 for mean_pool; a batch of one, a single token.
    empty = mask[:2].clone()
    empty[1] = 0  # (2, T): the second row is all padding
    case("an all-padding row (its mean is 0, not NaN)", lambda: run(x[:2], empty, "pooling", ("mean_pool",)))
    case("a batch of one sentence of one token (B=1, T=1)", lambda: run(x[:1, :1], mask[:1, :1], "pooling"))
    batch = ctx.batch(8)
    with torch.no_grad():
        h = ctx.bert(batch["input_ids"], batch["attention_mask"]).last_hidden_state
    d2 = case(f"all-MiniLM-L6-v2 token vectors of 8 sentences ({ctx.data})", lambda: run(h, batch["attention_mask"], "pooling"))
    return [f"mean, max and CLS pooling: max |Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2"]


EXERCISE = Exercise(
    "pooling", ('mean_pool', 'max_pool', 'cls_pool'), "minisbert/pooling.py: mean_pooling, max_pooling, cls_pooling",
    "notebooks/04_siamese_and_pooling.py", check,
    params={'mean_pool': ('token_embeddings', 'attention_mask'), 'max_pool': ('token_embeddings', 'attention_mask'), 'cls_pool': ('token_embeddings', 'attention_mask')},
    builtins=(),
)
