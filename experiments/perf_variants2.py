"""Issue 7, round 2: the matrix products are ~87% of the time, so try oneDNN (prepacked weights, fused
GELU), attention without SDPA, and token-budget batches. Same protocol as perf_variants.py."""
import argparse, time
import numpy as np
import torch
import torch.nn.functional as F

from minisbert.data import load_stsb
from minisbert.sbert import SentenceBert
from minisbert import fast as fastmod
from minisbert.fast import FastEncoder

ap = argparse.ArgumentParser()
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64])
ap.add_argument("--limit", type=int, default=None)
args = ap.parse_args()

S = [s for p in load_stsb("test", data_dir="/work/shared/data") for s in (p.sentence1, p.sentence2)][:args.limit]
sb = SentenceBert.from_pretrained("all-MiniLM-L6-v2")
from sentence_transformers import SentenceTransformer
st = SentenceTransformer("weights/all-MiniLM-L6-v2", device="cpu")
fast = FastEncoder(sb.bert)
mk = torch.ops.mkldnn

# oneDNN weights, packed once per linear
packed = {}
def pk(w):
    key = id(w)
    if key not in packed:
        packed[key] = (w, mk._reorder_linear_weight(w.detach(), None))
    return packed[key][1]

def lin_onednn(x, w, b, act="none"):
    return mk._linear_pointwise(x, pk(w), b, act, [], "none" if act == "gelu" else "")

def attention_math(qkv, groups, num_heads):
    N, H3 = qkv.shape; H = H3 // 3; hs = H // num_heads
    out = []
    for g in fastmod.group_views(qkv, groups):
        n, L, _ = g.shape
        q, k, v = g.view(n, L, 3, num_heads, hs).permute(2, 0, 3, 1, 4)
        p = (q @ k.transpose(-2, -1) * hs ** -0.5).softmax(-1)
        out.append((p @ v).transpose(1, 2).reshape(n * L, H))
    return out[0] if len(out) == 1 else torch.cat(out)

def make_layer(onednn=False, gelu_fused=False, attn=None):
    def lf(layer, x, w, b, groups):
        at = layer.attention
        L = (lambda x, m, act="none": lin_onednn(x, m.weight, m.bias, act)) if onednn else None
        qkv = lin_onednn(x, w, b) if onednn else F.linear(x, w, b)
        ctx = (attn or fastmod.attention)(qkv, groups, at.self.num_heads)
        d = L(ctx, at.output.dense) if onednn else at.output.dense(ctx)
        a = at.output.LayerNorm(x + d)
        if onednn and gelu_fused:
            h = L(a, layer.intermediate.dense, "gelu")
        elif onednn:
            h = F.gelu(L(a, layer.intermediate.dense))
        else:
            h = F.gelu(layer.intermediate.dense(a))
        o = L(h, layer.output.dense) if onednn else layer.output.dense(h)
        return layer.output.LayerNorm(a + o)
    return lf

ORIG = fastmod.layer_forward
def with_layer(lf):
    def fwd(batch):
        fastmod.layer_forward = lf
        try:
            return fast(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        finally:
            fastmod.layer_forward = ORIG
    return fwd

def encode_with(fwd, factor=None):
    def run(sentences, bs):
        sb._forward_for_encode = fwd
        try:
            if factor is None:
                return sb.encode(sentences, batch_size=bs, normalize=True, progress=False)
            return encode_tokens(sentences, bs, factor, fwd)
        finally:
            del sb._forward_for_encode
    return run

def encode_tokens(sentences, bs, factor, fwd):
    ids = sb.tokenizer(sentences, padding=False, truncation=True, max_length=sb.max_seq_length, return_tensors=None)["input_ids"]
    lengths = [len(x) for x in ids]
    budget = bs * factor * (sum(lengths) / len(lengths))
    order = sorted(range(len(ids)), key=lambda i: -lengths[i])
    out = torch.empty(len(ids), sb.dim)
    with torch.inference_mode():
        start = 0
        while start < len(order):
            T = lengths[order[start]]
            rows = order[start:start + max(1, int(budget // T))]
            input_ids = torch.tensor([ids[i] + [0] * (T - lengths[i]) for i in rows])
            lens = torch.tensor([lengths[i] for i in rows])
            mask = (torch.arange(T)[None] < lens[:, None]).long()
            u = fwd({"input_ids": input_ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(input_ids)})
            out[torch.tensor(rows)] = F.normalize(u, dim=-1)
            start += len(rows)
    return out.numpy()

systems = {
    "sentence-transformers": lambda s, bs: st.encode(s, batch_size=bs, normalize_embeddings=True, show_progress_bar=False),
    "fast": encode_with(with_layer(ORIG)),
    "fast-math-attn": encode_with(with_layer(make_layer(attn=attention_math))),
    "fast-onednn": encode_with(with_layer(make_layer(onednn=True))),
    "fast-onednn-gelu": encode_with(with_layer(make_layer(onednn=True, gelu_fused=True))),
    "fast-onednn-gelu+tok2x": encode_with(with_layer(make_layer(onednn=True, gelu_fused=True)), factor=2.0),
}
print(f"threads {torch.get_num_threads()}, {len(S)} sentences", flush=True)
for name, f in systems.items():
    f(S[:128], 64)
best, vecs = {}, {}
for r in range(args.repeats):
    for bs in args.batch_sizes:
        for name, f in systems.items():
            t = time.perf_counter()
            vecs[name, bs] = np.asarray(f(S, bs))
            dt = time.perf_counter() - t
            best.setdefault((name, bs), []).append(dt)
            print(f"  repeat {r} bs {bs} {name}: {dt:.2f}s", flush=True)
print(f"{'variant':<24} {'batch':>5} {'sent/s':>7} {'vs ST':>6} {'max|d| vs ST':>12} {'vs fast':>8}  runs(s)")
for bs in args.batch_sizes:
    st_t = min(best["sentence-transformers", bs])
    for name in systems:
        t = min(best[name, bs])
        d = np.abs(vecs[name, bs] - vecs["sentence-transformers", bs]).max()
        d2 = np.abs(vecs[name, bs] - vecs["fast", bs]).max()
        print(f"{name:<24} {bs:>5} {len(S)/t:>7.0f} {st_t/t:>5.2f}x {d:>12.1e} {d2:>8.1e}  " + " ".join(f"{x:.2f}" for x in best[name, bs]))
