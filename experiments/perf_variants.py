"""Issue 7: encode throughput of fast-path variants vs sentence-transformers, interleaved, same process.

Run under the shared lock:  flock /tmp/minisbert-heavy.lock .venv/bin/python experiments/perf_variants.py
Each variant encodes all 2,758 STSb test sentences (normalised vectors); best of --repeats, systems
interleaved within every repeat; ratio = ST time / variant time at the same batch size.
"""
import argparse, math, time, types
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
ap.add_argument("--variants", nargs="+", default=None)
ap.add_argument("--threads", type=int, default=None)
args = ap.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)

S = [s for p in load_stsb("test", data_dir="/work/shared/data") for s in (p.sentence1, p.sentence2)]
sb = SentenceBert.from_pretrained("all-MiniLM-L6-v2")
from sentence_transformers import SentenceTransformer
st = SentenceTransformer("weights/all-MiniLM-L6-v2", device="cpu")
fast = FastEncoder(sb.bert)


# --- variants of the per-batch forward (plugged into SentenceBert._forward_for_encode) ---------------
def fwd_plain_sdpa(batch):  # what encode did before: padded, SDPA with mask
    return sb._pooled(batch)

def fwd_fast(batch):
    return fast(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], pooling="mean")

def fwd_fast_unfused(batch):  # packed + groups, but three Q/K/V products
    orig = fastmod.layer_forward
    def lf(layer, x, w, b, groups):
        s = layer.attention.self
        qkv = torch.cat([s.query(x), s.key(x), s.value(x)], dim=-1)
        context = fastmod.attention(qkv, groups, s.num_heads)
        a = layer.attention.output.LayerNorm(x + layer.attention.output.dense(context))
        return layer.output.LayerNorm(a + layer.output.dense(F.gelu(layer.intermediate.dense(a))))
    fastmod.layer_forward = lf
    try:
        return fwd_fast(batch)
    finally:
        fastmod.layer_forward = orig

def fwd_padded_fused(batch):  # no packing: padded (B, T, H), fused QKV, SDPA with mask
    bert = sb.bert
    ids, mask, tt = batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
    x = bert.embeddings(ids, tt)
    B, T, H = x.shape
    km = mask.bool()[:, None, None, :]
    for i, layer in enumerate(bert.encoder.layer):
        w, b = fast.fused_qkv.get(i)
        nh = layer.attention.self.num_heads
        q, k, v = F.linear(x, w, b).view(B, T, 3, nh, H // nh).permute(2, 0, 3, 1, 4)
        c = F.scaled_dot_product_attention(q, k, v, attn_mask=km).transpose(1, 2).reshape(B, T, H)
        a = layer.attention.output.LayerNorm(x + layer.attention.output.dense(c))
        x = layer.output.LayerNorm(a + layer.output.dense(F.gelu(layer.intermediate.dense(a))))
    return sb.pooling(x, mask)

def fwd_fast_bf16(batch):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return fwd_fast(batch).float()

FWD = {"plain-sdpa": fwd_plain_sdpa, "fast": fwd_fast, "fast-unfused-qkv": fwd_fast_unfused,
       "padded-fused-qkv": fwd_padded_fused}


def encode_with(fwd):
    def run(sentences, bs):
        sb._forward_for_encode = fwd
        try:
            return sb.encode(sentences, batch_size=bs, normalize=True, progress=False)
        finally:
            del sb._forward_for_encode
    return run


def encode_token_budget(factor):
    """Regroup by tokens: each forward takes sentences (longest first) while n·L_max ≤ bs·factor·mean_len."""
    def run(sentences, bs):
        ids = sb.tokenizer(sentences, padding=False, truncation=True, max_length=sb.max_seq_length,
                           return_tensors=None)["input_ids"]
        lengths = [len(x) for x in ids]
        budget = bs * factor * (sum(lengths) / len(lengths))
        order = sorted(range(len(ids)), key=lambda i: -lengths[i])
        out = torch.empty(len(ids), sb.dim)
        with torch.inference_mode():
            start = 0
            while start < len(order):
                L = lengths[order[start]]
                n = max(1, int(budget // L))
                rows = order[start:start + n]
                T = L
                input_ids = torch.tensor([ids[i] + [0] * (T - lengths[i]) for i in rows])
                lens = torch.tensor([lengths[i] for i in rows])
                mask = (torch.arange(T)[None] < lens[:, None]).long()
                u = fast(input_ids, mask, torch.zeros_like(input_ids), pooling="mean")
                out[torch.tensor(rows)] = F.normalize(u, dim=-1)
                start += n
        return out.numpy()
    return run


def st_encode(sentences, bs):
    return st.encode(sentences, batch_size=bs, normalize_embeddings=True, show_progress_bar=False)


systems = {"sentence-transformers": st_encode}
for name, f in FWD.items():
    systems[name] = encode_with(f)
systems["fast+tokens(1x)"] = encode_token_budget(1.0)
systems["fast+tokens(2x)"] = encode_token_budget(2.0)
if args.variants:
    systems = {k: v for k, v in systems.items() if k in args.variants or k == "sentence-transformers"}

print(f"threads {torch.get_num_threads()}, {len(S)} sentences")
for name, f in systems.items():  # warm-up
    f(S[:128], 64)
best = {}
vecs = {}
for r in range(args.repeats):
    for bs in args.batch_sizes:
        for name, f in systems.items():
            t, c = time.perf_counter(), time.process_time()
            vecs[name, bs] = np.asarray(f(S, bs))
            dt, dc = time.perf_counter() - t, time.process_time() - c
            best.setdefault((name, bs), []).append(dt)
            print(f"  repeat {r} bs {bs} {name}: {dt:.2f}s wall, {dc:.2f}s CPU", flush=True)

print(f"{'variant':<22} {'batch':>5} {'sent/s':>7} {'vs ST':>6} {'max|d| vs ST':>12}  runs(s)")
for bs in args.batch_sizes:
    st_t = min(best["sentence-transformers", bs])
    for name in systems:
        t = min(best[name, bs])
        d = np.abs(vecs[name, bs] - vecs["sentence-transformers", bs]).max()
        print(f"{name:<22} {bs:>5} {len(S)/t:>7.0f} {st_t/t:>5.2f}x {d:>12.1e}  " + " ".join(f"{x:.2f}" for x in best[name, bs]))
