"""Exercise 3, the input embeddings: word + position + token type, then LayerNorm."""

from __future__ import annotations

import torch

from ...bert import BertEmbeddings
from ..compare import case, check_tensor
from ..context import Context
from ..exercise import Exercise
from ..mistakes import layer_norm
from ..references import config
from ..student import Student


def check(student: Student, ctx: Context) -> list[str]:
    def run(ids, types_, word, pos, typ, lnw, lnb, eps, what):
        cfg = config(word.shape[1], 1, vocab=word.shape[0], positions=pos.shape[0], eps=eps)
        cfg.type_vocab_size = typ.shape[0]
        module = BertEmbeddings(cfg).eval()
        module.load_state_dict({"word_embeddings.weight": word, "position_embeddings.weight": pos,
                                "token_type_embeddings.weight": typ, "LayerNorm.weight": lnw, "LayerNorm.bias": lnb})
        with torch.no_grad():
            want = module(ids, types_)
        T = ids.shape[1]
        summed = lambda p=torch.arange(T), use_pos=True, use_type=True: (
            word[ids] + (pos[p] if use_pos else 0) + (typ[types_] if use_type else 0))
        wrongs = [
            ("LayerNorm eps: use the eps argument (1e-12 for BERT), not PyTorch's default 1e-5",
             lambda: layer_norm(summed(), lnw, lnb, 1e-5)),
            ("the position embedding is missing: add position_embeddings[0..T-1]", lambda: layer_norm(summed(use_pos=False), lnw, lnb, eps)),
            ("the token type (segment) embedding is missing: add token_type_embeddings[token_type_ids]",
             lambda: layer_norm(summed(use_type=False), lnw, lnb, eps)),
            ("positions count from 0: position_ids = arange(T)", lambda: layer_norm(summed(torch.arange(1, T + 1)), lnw, lnb, eps)),
            ("LayerNorm is missing after the sum", lambda: summed()),
            ("LayerNorm without its weight and bias (gamma, beta)", lambda: layer_norm(summed(), 1.0, 0.0, eps)),
            ("LayerNorm normalises with the population variance (mean of squares, divide by H, not H - 1)",
             lambda: (summed() - summed().mean(-1, keepdim=True)) / torch.sqrt(summed().var(-1, keepdim=True) + eps) * lnw + lnb),
        ]
        got = student("embeddings", ids, types_, word, pos, typ, lnw, lnb, eps)
        return check_tensor(got, want, what, wrongs=wrongs, usual="word + position + token type, then LayerNorm over the last axis")

    g = torch.Generator().manual_seed(1)
    V, P, H, B, T = 40, 12, 16, 3, 7
    args = (torch.randint(V, (B, T), generator=g), torch.randint(2, (B, T), generator=g),
            0.05 * torch.randn(V, H, generator=g), 0.05 * torch.randn(P, H, generator=g), 0.05 * torch.randn(2, H, generator=g),
            1 + 0.1 * torch.randn(H, generator=g), 0.1 * torch.randn(H, generator=g), 1e-12)
    d1 = case(f"random inputs (B={B}, T={T}, H={H})", lambda: run(*args, "embeddings"))
    case("a batch of one sentence of one token (B=1, T=1)", lambda: run(args[0][:1, :1], args[1][:1, :1], *args[2:], "embeddings"))
    batch = ctx.batch(8, pairs=True)
    e = {k: v.detach().clone() for k, v in ctx.bert.embeddings.state_dict().items()}
    real = (batch["input_ids"], batch["token_type_ids"], e["word_embeddings.weight"], e["position_embeddings.weight"],
            e["token_type_embeddings.weight"], e["LayerNorm.weight"], e["LayerNorm.bias"], ctx.bert.config.layer_norm_eps)
    d2 = case(f"all-MiniLM-L6-v2 on 8 sentence pairs ({ctx.data})", lambda: run(*real, "embeddings"))
    return [f"max |Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2"]


EXERCISE = Exercise(
    "embeddings", ('embeddings',), "minisbert/bert.py: BertEmbeddings.forward",
    "notebooks/02_bert_step_by_step.py", check,
    params={'embeddings': ('input_ids', 'token_type_ids', 'word_embeddings', 'position_embeddings', 'token_type_embeddings', 'ln_weight', 'ln_bias', 'eps')},
    builtins=('layer_norm', 'LayerNorm'),
)
