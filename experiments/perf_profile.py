"""Where encode's time goes: torch.profiler over the plain padded forward and the fast packed one
(all STSb test sentences, batch 32), operator table by self CPU time.

STS Benchmark test from $MINISBERT_DATA; ``python experiments/perf_profile.py [plain|plain-eager|fast]``;
output recorded in experiments/results/perf_profile.txt.
"""
import sys
from torch.profiler import profile, ProfilerActivity
from minisbert.io.data import load_stsb
from minisbert.sbert import SentenceBert
from minisbert.speed.fast import FastEncoder

S = [s for p in load_stsb("test") for s in (p.sentence1, p.sentence2)]
sb = SentenceBert.from_pretrained("all-MiniLM-L6-v2")
fast = FastEncoder(sb.bert)
variant = sys.argv[1] if len(sys.argv) > 1 else "plain"
sb.encode(S[:64])
if variant == "plain-eager":
    sb._forward_for_encode = lambda b: sb._pooled(b)
    sb.bert.use_sdpa = False
if variant == "fast":
    sb._forward_for_encode = lambda b: fast(b["input_ids"], b["attention_mask"], b["token_type_ids"])
with profile(activities=[ProfilerActivity.CPU]) as prof:
    sb.encode(S, batch_size=32)
t = prof.key_averages()
total = sum(e.self_cpu_time_total for e in t)
print(f"{variant}: total self CPU {total/1e6:.2f}s")
for e in sorted(t, key=lambda e: -e.self_cpu_time_total)[:14]:
    print(f"  {e.key:<40} {e.self_cpu_time_total/1e6:7.3f}s {100*e.self_cpu_time_total/total:5.1f}%  calls {e.count}")
