"""Opt-in lower precision on this CPU: bf16 autocast and fp16 weights, time and error vs fp32 (first 512 STSb test sentences).

STS Benchmark test from $MINISBERT_DATA; output recorded in experiments/results/perf_bf16.txt.
"""
import time, torch, numpy as np
from minisbert.io.data import load_stsb
from minisbert.sbert import SentenceBert
from minisbert.speed.fast import FastEncoder
S = [s for p in load_stsb("test") for s in (p.sentence1, p.sentence2)][:512]
sb = SentenceBert.from_pretrained("all-MiniLM-L6-v2")
fast = FastEncoder(sb.bert)
def fwd(b): return fast(b["input_ids"], b["attention_mask"], b["token_type_ids"])
def bf16(b):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return fwd(b).float()
res = {}
for r in range(2):
    for name, f in (("fp32", fwd), ("bf16-autocast", bf16)):
        sb._forward_for_encode = f
        t = time.perf_counter(); res[name] = sb.encode(S, batch_size=32, normalize=True); dt = time.perf_counter() - t
        print(f"{name}: {len(S)/dt:.0f} sent/s", flush=True)
d = np.abs(res["bf16-autocast"] - res["fp32"]).max()
cos = (res["bf16-autocast"] * res["fp32"]).sum(1).min()
print(f"bf16 vs fp32: max|d| {d:.2e}, min cosine {cos:.6f}")
