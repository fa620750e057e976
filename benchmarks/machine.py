"""The machine a benchmark ran on: CPU, threads, versions, and its fp32 matrix-product speed.

Numbers measured on one machine mean little without it: CPUs differ (AVX2 only, or AVX-512 and AMX),
and so do the thread count torch picks and the versions of the libraries compared.
"""

from __future__ import annotations

import os
import platform
import time


def machine_description(device: str = "cpu") -> dict:
    """CPU model and flags, logical and usable CPUs, torch's CPU capability and threads, versions (and GPU)."""
    import torch

    from minisbert.speed.hardware import FLAGS, cpu_flags, cpu_name

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = {"torch": torch.__version__, "python": platform.python_version()}
    for name in ("sentence_transformers", "transformers"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            pass
    machine = {"cpu": cpu_name(), "cpu_flags": [f for f in FLAGS if f in cpu_flags()],
               "logical_cpus": os.cpu_count(), "usable_cpus": usable,
               "cpu_capability": torch.backends.cpu.get_cpu_capability(),
               "torch_threads": torch.get_num_threads(), "device": device, "versions": versions}
    if device.startswith("cuda"):
        machine["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return machine


def matmul_gflops(device: str = "cpu", n: int = 2048, dtype: str = "fp32") -> float:
    """The device's matrix-product speed in ``dtype`` ("fp32" or "bf16"): best of a few n × n × n
    products, in GFLOP/s."""
    import torch

    dt = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
    a, b = torch.randn(n, n, device=device, dtype=dt), torch.randn(n, n, device=device, dtype=dt)
    best = float("inf")
    for _ in range(4 if device == "cpu" else 20):
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def sync(device: str) -> None:
    """Wait for the GPU's queued work (a no-op on the CPU), so that a timer sees all of it."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
