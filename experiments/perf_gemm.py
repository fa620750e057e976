"""GEMM throughput on this CPU for the model's shapes (M tokens × K → N), by backend.

F.linear (MKL sgemm, weight (N, K) used transposed), addmm with a pre-transposed (K, N) weight, oneDNN
(mkldnn::_linear_pointwise) with the plain weight and with a weight reordered once, and a 2048³ matmul
as the machine's reference. GFLOP/s = 2·M·K·N / time, best of several.
"""
import time, torch
import torch.nn.functional as F

def bench(fn, reps=None):
    fn(); fn()
    best = float("inf")
    for _ in range(5):
        n = 0; t = time.perf_counter()
        while True:
            fn(); n += 1
            dt = time.perf_counter() - t
            if dt > 0.15: break
        best = min(best, dt / n)
    return best

torch.manual_seed(0)
a = torch.randn(2048, 2048); b = torch.randn(2048, 2048)
t = bench(lambda: a @ b); print(f"matmul 2048^3: {2*2048**3/t/1e9:.0f} GFLOP/s, threads {torch.get_num_threads()}", flush=True)
mk = torch.ops.mkldnn
shapes = [("qkv", 384, 1152), ("attn-out", 384, 384), ("ffn-in", 384, 1536), ("ffn-out", 1536, 384)]
print(f"{'shape':<9} {'M':>5} {'F.linear':>9} {'addmm(Wt)':>10} {'onednn':>8} {'onednn-pk':>10} {'onednn+gelu':>12} {'linear+gelu':>12}")
for M in (128, 256, 512, 1024, 2048, 4096):
    for name, K, N in shapes:
        x = torch.randn(M, K); w = torch.randn(N, K) * 0.05; bias = torch.randn(N); wt = w.t().contiguous()
        wp = mk._reorder_linear_weight(w, M)
        fl = 2 * M * K * N / 1e9
        r = [fl / bench(lambda: F.linear(x, w, bias)), fl / bench(lambda: torch.addmm(bias, x, wt)),
             fl / bench(lambda: mk._linear_pointwise(x, w, bias, "none", [], "")),
             fl / bench(lambda: mk._linear_pointwise(x, wp, bias, "none", [], ""))]
        if name == "ffn-in":
            r += [fl / bench(lambda: mk._linear_pointwise(x, wp, bias, "gelu", [], "none")),
                  fl / bench(lambda: F.gelu(F.linear(x, w, bias)))]
        print(f"{name:<9} {M:>5} " + " ".join(f"{v:>9.0f}" for v in r), flush=True)
