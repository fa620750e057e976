"""Baseline: where encode's time goes (tokenizer vs forward), ours vs sentence-transformers, interleaved.

STS Benchmark test from $MINISBERT_DATA; run from the repository root: python experiments/perf_baseline.py
"""
import time
import torch
from minisbert.io.data import load_stsb
from minisbert.sbert import SentenceBert

pairs = load_stsb("test")  # from $MINISBERT_DATA
S = [s for p in pairs for s in (p.sentence1, p.sentence2)]
sb = SentenceBert.from_pretrained("all-MiniLM-L6-v2")
from sentence_transformers import SentenceTransformer
st = SentenceTransformer("weights/all-MiniLM-L6-v2", device="cpu")
print("threads", torch.get_num_threads())

t = time.perf_counter(); ids = sb.tokenizer(S, padding=False, truncation=True, max_length=256, return_tensors=None)["input_ids"]; tt = time.perf_counter() - t
print(f"minisbert tokenizer: {tt:.3f}s for {len(S)} sentences, {sum(map(len, ids))} tokens")
t = time.perf_counter(); st.tokenizer(S, padding=True, truncation=True, max_length=256, return_tensors="pt"); print(f"HF rust tokenizer: {time.perf_counter()-t:.3f}s")

for bs in (32, 64):
    sb.encode(S[:128], batch_size=bs); st.encode(S[:128], batch_size=bs)
    res = {"ours": [], "st": []}
    for r in range(3):
        t = time.perf_counter(); a = sb.encode(S, batch_size=bs, normalize=True); res["ours"].append(time.perf_counter() - t)
        t = time.perf_counter(); b = st.encode(S, batch_size=bs, normalize_embeddings=True); res["st"].append(time.perf_counter() - t)
    o, s = min(res["ours"]), min(res["st"])
    print(f"bs={bs}: ours {len(S)/o:.0f}/s  ST {len(S)/s:.0f}/s  ratio {s/o:.2f}  maxdiff {abs(a-b).max():.1e}  runs ours={['%.2f'%x for x in res['ours']]} st={['%.2f'%x for x in res['st']]}")
