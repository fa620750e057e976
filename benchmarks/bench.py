"""Encode throughput and peak memory against the reference libraries, and training steps/s.

    python -m benchmarks.bench                      # from the repository root; make bench runs it
    python -m benchmarks.bench --limit 200 --repeats 1 --no-memory --train-steps 0   # a quick look

Three systems encode the same STS Benchmark test sentences (all 2 × 1,379 = 2,758 of them, repeats
included) at the same batch sizes, in one process, with the same torch threads:

* ``minisbert``: ``SentenceBert.encode`` (the fast inference path of ``minisbert/speed/fast.py``, its default);
* ``minisbert-no-dedup``: the same with ``deduplicate = False``: every input sentence goes through BERT,
  repeats included, as in the other systems: the same forward work, the fairest ratio for the model
  itself (``minisbert`` encodes each distinct sentence once; 7.5% of these sentences are repeats);
* ``minisbert-one-worker``: the same with ``workers=1``: one batch at a time, every thread on it, where
  ``encode`` by default runs one batch per thread side by side (``minisbert/speed/batching.py``);
* ``minisbert-plain`` (only with ``--systems``): ``fast_inference = False`` too, the plain forward;
* ``sentence-transformers``: ``SentenceTransformer.encode`` (sorts by characters, dynamic padding);
* ``hf-bert-mean``: transformers' ``BertModel`` with masked mean pooling written by hand, batches in
  input order: the loop most people write first;
* what a user could pick instead of fp32 (``benchmarks/precisions.py``): ``minisbert-bf16``
  (``encode(compute="bf16")``, and ``minisbert-bf16-one-worker``), ``torch-int8`` (torch dynamic int8
  on the Linears), ``onnxruntime-fp32`` and ``onnxruntime-int8`` (the model exported with mean pooling
  and normalisation, in this run, and its dynamic int8 quantization). Every row gives its precision,
  max |Δ| against sentence-transformers fp32 and the STSb test Spearman (×100) of its vectors.

Throughput is the best of ``--repeats`` timed runs after a warm-up (the minimum is the run least
disturbed by other work on the machine), with the systems interleaved so that slow drift hits all of
them alike. Tokenization is inside the timing: it is part of encoding.

Peak memory is measured in a fresh subprocess per system and batch size, because a process's peak
resident set (``VmHWM`` in ``/proc/self/status``) only ever grows and torch's allocator keeps freed
memory; ``tracemalloc`` sees none of torch's allocations. The child loads the model, resets the peak
to the current size (``echo 5 > /proc/self/clear_refs``), encodes once, and reports the peak: the
memory the encode itself needed on top of the loaded model, and the whole process's peak.

Roofline: a large (2048 × 2048) fp32 matrix product is timed first on the same device; the model costs
about ``2 · L · (4H² + 2·H·I)`` FLOP per token in its matrix products (21.2 MFLOP for all-MiniLM-L6-v2;
attention's own products are ~1% at these lengths and left out), so tokens/s × that / the measured
FLOP/s is the share of the machine's matrix-product speed that encoding reaches ("% roof").

Training: ``--train-steps`` steps of the regression objective (cosine similarity vs the gold score, MSE),
batch 16 STS Benchmark train pairs, AdamW (lr 2e-5, decay 0.01 except biases and LayerNorm, fused where
torch has it), gradient clipping at 1.0, dropout on: minisbert's ``RegressionObjective`` (fp32, and bf16
under autocast as ``train --precision bf16`` runs it) against sentence-transformers' model with its
``CosineSimilarityLoss`` in fp32. minisbert runs ``minisbert.training.training_step`` on a model set up by
``set_up_for_training``, as ``train`` does (packed tokens, one forward for both columns, a sparse
word-embedding gradient); sentence-transformers runs the same loop written out (tokenize, forward,
loss, backward, clip, step). Best of ``--repeats`` timed runs after 2 warm-up steps. Then, so that speed
is not bought with accuracy, each starts again from the pretrained weights, trains
``--train-eval-steps`` steps (a short fixed recipe: the first batches of STSb train in file order,
constant lr 2e-5, seed 0) and is scored on STSb test (Spearman ×100).

``--device cuda`` runs all of it on the GPU (peak memory then is ``torch.cuda.max_memory_allocated``).
The recorded output is in ``experiments/results/bench.txt`` and ``bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from . import command_line
from .machine import machine_description, matmul_gflops, sync

REPO = Path(__file__).resolve().parent.parent
SYSTEMS = ("minisbert", "minisbert-no-dedup", "minisbert-one-worker", "sentence-transformers", "hf-bert-mean",
           "minisbert-plain", "minisbert-bf16", "minisbert-bf16-one-worker", "torch-int8", "onnxruntime-fp32",
           "onnxruntime-int8")
DEFAULT_SYSTEMS = ("sentence-transformers", "minisbert", "minisbert-no-dedup", "minisbert-one-worker",
                   "minisbert-bf16", "minisbert-bf16-one-worker", "hf-bert-mean", "torch-int8", "onnxruntime-fp32",
                   "onnxruntime-int8")
TRAINERS = ("minisbert", "minisbert-bf16", "sentence-transformers")  # systems that have a training step
HELP = "encode throughput and peak memory vs sentence-transformers and HF, training steps/s"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="model folder or fetched model name")
    p.add_argument("--data-dir", default=None, help="data folder (default: $MINISBERT_DATA)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64], help="batch sizes (default 32 64)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per system and batch size (default 3)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N sentences (for a quick look)")
    p.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(DEFAULT_SYSTEMS),
                   help=f"systems to compare (default: {' '.join(DEFAULT_SYSTEMS)})")
    p.add_argument("--device", default="cpu", help="cpu (the reference) or cuda")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--train-steps", type=int, default=20,
                   help="timed training steps per system and repeat, batch 16 (default 20; 0 skips training)")
    p.add_argument("--train-eval-steps", type=int, default=100,
                   help="steps of the short fixed training recipe scored on STSb test, per trainer (0 skips)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")


# ----------------------------------------------------------------------------------------------------
# The systems: each is a function (sentences, batch_size) -> (N, H) float32 array of unit vectors.


def make_encoder(system: str, folder, device: str = "cpu"):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from .precisions import make_precision_encoder

    folder = str(folder)
    encoder = make_precision_encoder(system, folder, device)
    if encoder is not None:
        return encoder
    if system in ("minisbert", "minisbert-no-dedup", "minisbert-one-worker", "minisbert-plain"):
        from minisbert import SentenceBert

        model = SentenceBert.from_pretrained(folder).to(device)
        model.fast_inference = system != "minisbert-plain"
        model.deduplicate = system != "minisbert-no-dedup"
        workers = 1 if system == "minisbert-one-worker" else None  # one batch at a time, on every thread
        return lambda sentences, bs: model.encode(sentences, batch_size=bs, normalize=True, progress=False,
                                                  workers=workers)
    if system == "sentence-transformers":
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(folder, device=device)
        return lambda sentences, bs: model.encode(sentences, batch_size=bs, normalize_embeddings=True,
                                                  show_progress_bar=False)
    if system == "hf-bert-mean":
        from transformers import AutoTokenizer
        from transformers import BertModel as HFBertModel

        max_len = max_seq_length(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = HFBertModel.from_pretrained(folder).to(device).eval()

        def encode(sentences, bs):
            out = []
            with torch.inference_mode():
                for i in range(0, len(sentences), bs):
                    batch = tokenizer(sentences[i:i + bs], padding=True, truncation=True, max_length=max_len,
                                      return_tensors="pt").to(device)
                    h = model(**batch).last_hidden_state  # (B, T, H)
                    mask = batch["attention_mask"].unsqueeze(-1).to(h.dtype)  # (B, T, 1)
                    u = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, H)
                    out.append(F.normalize(u, p=2, dim=-1))
            return torch.cat(out).cpu().numpy().astype(np.float32)

        return encode
    raise ValueError(f"unknown system {system!r}; choose from {', '.join(SYSTEMS)}")


def max_seq_length(folder) -> int:
    """The truncation length a sentence-transformers folder asks for (512 when it names none)."""
    config = Path(folder) / "sentence_bert_config.json"
    length = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length") if config.is_file() else None
    return length or 512


def load_sentences(data_dir, limit):
    from minisbert.io.data import load_stsb

    pairs = load_stsb("test", data_dir)
    sentences = [s for p in pairs for s in (p.sentence1, p.sentence2)]
    return sentences[:limit] if limit else sentences


def flops_per_token(config) -> float:
    """Multiply-adds × 2 of the dense layers per token: L · (4H² for Q, K, V, output + 2·H·I for the FFN)."""
    H, I, L = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return 2 * L * (4 * H * H + 2 * H * I)


# ----------------------------------------------------------------------------------------------------
# Peak memory, one fresh process per system and batch size


def read_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            match = re.search(rf"^{field}:\s+(\d+)\s+kB", f.read(), flags=re.M)
        return int(match.group(1)) if match else None
    except OSError:
        return None


def memory_child(system: str, folder: str, batch_size: int, data_dir: str | None, limit: int | None,
                 device: str = "cpu", threads: int | None = None) -> dict:
    """Runs in its own process: load, reset the peak, encode once, report MiB."""
    import resource

    import torch

    if threads:
        torch.set_num_threads(threads)
    sentences = load_sentences(data_dir, limit)
    encode = make_encoder(system, folder, device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        loaded = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        encode(sentences, batch_size)
        peak = torch.cuda.max_memory_allocated()
        return {"loaded_mib": loaded / 2**20, "peak_mib": peak / 2**20, "encode_mib": (peak - loaded) / 2**20}
    loaded = read_status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # Linux ≥ 4.0: reset VmHWM (the peak) to the current resident size
        reset = True
    except OSError:
        reset = False
    encode(sentences, batch_size)
    peak = read_status_kib("VmHWM")
    if peak is None:  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS) and no reset
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)
        reset = False
    return {"loaded_mib": (loaded or 0) / 1024, "peak_mib": peak / 1024,
            "encode_mib": (peak - loaded) / 1024 if (reset and loaded) else None}


def measure_memory(system, folder, batch_size, data_dir, limit, device="cpu", threads=None) -> dict | None:
    """``memory_child`` in a fresh ``python -m benchmarks.bench --memory-child ...`` process."""
    args = [sys.executable, "-m", "benchmarks.bench", "--memory-child", system, str(folder),
            str(batch_size), data_dir or "", str(limit or 0), device, str(threads or 0)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(args, capture_output=True, text=True, timeout=1800, env=env)
    if done.returncode != 0:
        print(f"  memory measurement for {system} failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------------
# Training: one step = tokenize both columns, forward, loss, backward, clip, AdamW step


def training_step(loss_of, parameters, optimizer):
    """step(examples) -> loss: forward, backward, clip the gradient norm at 1.0, AdamW step (for
    sentence-transformers; minisbert's trainers call ``minisbert.training.training_step``)."""
    from torch import nn

    parameters = list(parameters)

    def step(examples):
        loss = loss_of(examples)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        return loss.item()

    return step


def make_trainer(system: str, folder, device: str = "cpu"):
    """``(step, encode)`` for ``system``: step(examples) -> loss runs one training step, encode(sentences)
    gives the trained model's unit vectors. None for a system without training (hf-bert-mean, the
    inference-only variants)."""
    import torch

    from minisbert import SentenceBert
    from minisbert.optimization import make_optimizer
    from minisbert.training import TrainConfig

    if system in ("minisbert", "minisbert-bf16"):  # training never uses the fast inference path
        from minisbert.objectives import RegressionObjective
        from minisbert.speed.training import set_up_for_training
        from minisbert.training import training_step as minisbert_step

        objective = RegressionObjective(SentenceBert.from_pretrained(folder).to(device))
        config = TrainConfig(precision="bf16" if system == "minisbert-bf16" else "fp32")
        optimizer = make_optimizer(objective, config)[0]
        set_up_for_training(objective, config, optimizer)  # as minisbert.training.train sets the model up
        constant = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)  # lr 2e-5, as for ST

        def step(examples):  # minisbert.train's own step: forward (autocast in bf16), backward, clip, AdamW
            return minisbert_step(objective, examples, optimizer, constant, config.max_grad_norm,
                                  precision=config.precision)

        def encode(sentences):
            vectors = objective.model.encode(sentences, normalize=True, progress=False)
            objective.train()  # encode switches to eval
            return vectors

        return step, encode
    if system == "sentence-transformers":
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

        model = SentenceTransformer(str(folder), device=device)
        loss_fn = CosineSimilarityLoss(model)
        model.train()
        tokenize = getattr(model, "preprocess", None) or model.tokenize  # 6.x calls it preprocess

        def loss_of(examples):
            features = [tokenize([e.a for e in examples]), tokenize([e.b for e in examples])]
            features = [{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in f.items()}
                        for f in features]
            labels = torch.tensor([e.label for e in examples], dtype=torch.float32, device=device)
            return loss_fn(features, labels)

        def encode(sentences):
            vectors = model.encode(sentences, normalize_embeddings=True, show_progress_bar=False)
            model.train()  # encode switches to eval
            return vectors

        # The same AdamW set-up as minisbert's: no decay on biases and LayerNorm weights, fused.
        return training_step(loss_of, model.parameters(), make_optimizer(model, TrainConfig())[0]), encode
    return None


def time_training(systems, folder, data_dir, device, steps, repeats, batch_size=16) -> dict:
    from minisbert.examples import stsb_regression

    examples = stsb_regression("train", data_dir)
    batches = [examples[i * batch_size:(i + 1) * batch_size] for i in range(steps + 2)]
    trainers = {s: t[0] for s in systems if (t := make_trainer(s, folder, device)) is not None}
    for step in trainers.values():  # warm-up: the first steps allocate the optimizer state
        step(batches[0]), step(batches[1])
    best = {s: float("inf") for s in trainers}
    for _ in range(repeats):
        for system, step in trainers.items():  # interleaved, as the encode timings
            t0 = time.perf_counter()
            for batch in batches[2:]:
                step(batch)
            sync(device)
            best[system] = min(best[system], time.perf_counter() - t0)
    return {s: steps / t for s, t in best.items()}


def train_and_score(systems, folder, data_dir, device, steps, batch_size=16) -> dict:
    """STSb test Spearman ×100 of each trainer after ``steps`` steps of the short fixed recipe."""
    import torch

    from minisbert.io.data import load_stsb
    from minisbert.examples import stsb_regression

    examples = stsb_regression("train", data_dir)
    test = load_stsb("test", data_dir)
    scores = {}
    for system in systems:
        torch.manual_seed(0)  # the same dropout stream for each
        made = make_trainer(system, folder, device)
        if made is None:
            continue
        step, encode = made
        for i in range(steps):
            step(examples[(i * batch_size) % len(examples):][:batch_size])
        scores[system] = stsb_spearman(encode([s for p in test for s in (p.sentence1, p.sentence2)]),
                                       [p.score for p in test])
    return scores


def stsb_spearman(vectors, gold) -> float | None:
    """Spearman ×100 between cos(u, v) of consecutive vector pairs (unit vectors) and the gold scores."""
    import numpy as np

    from minisbert.evaluate import spearman

    n = min(len(vectors) // 2, len(gold))
    if n < 2:
        return None
    cos = np.sum(vectors[0:2 * n:2] * vectors[1:2 * n:2], axis=1)
    return 100 * spearman(cos.tolist(), list(gold[:n]))


# ----------------------------------------------------------------------------------------------------
# The run: describe the set-up, time the encoders, measure memory, print the table, time training


def check_args(args) -> None:
    import torch

    if args.repeats <= 0 or any(b <= 0 for b in args.batch_sizes) or min(args.train_steps, args.train_eval_steps) < 0:
        raise ValueError("--repeats and --batch-sizes must be positive; --train-steps, --train-eval-steps at least 0")
    if args.threads is not None and args.threads <= 0:
        raise ValueError("--threads must be positive")
    if not (args.device == "cpu" or args.device.startswith("cuda")):
        raise ValueError(f"--device must be cpu or cuda, got {args.device!r}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: no CUDA device is available to this torch")
    if args.device.startswith("cuda") and "torch-int8" in args.systems:
        raise ValueError("torch-int8 (dynamic quantization) runs on the CPU only: leave it out of --systems "
                         "with --device cuda")


def describe(folder, sentences, device: str, repeats: int) -> dict:
    """Print the machine, the data and the model's roofline; return what the table needs of them."""
    from minisbert import SentenceBert
    from minisbert.speed.hardware import FLAGS, choose_precision

    # Tokens actually encoded (after truncation): the same for all, which share one vocabulary.
    ours = SentenceBert.from_pretrained(folder)
    tokens = ours.tokenize(sentences)
    lengths = [int(m.sum()) for m in tokens["attention_mask"]]
    n_tokens = sum(lengths)
    n_distinct = len({tuple(ids[:n].tolist()) for ids, n in zip(tokens["input_ids"], lengths)})
    flop_per_token = flops_per_token(ours.bert.config)
    machine = machine_description(device)
    gflops = machine["matmul_gflops"] = matmul_gflops(device)
    bf16_gflops = machine["matmul_gflops_bf16"] = matmul_gflops(device, dtype="bf16")
    flags = ", ".join(f"{f} {'yes' if f in machine['cpu_flags'] else 'no'}" for f in FLAGS)
    where = machine.get("gpu", f"{machine['cpu']}, {machine['logical_cpus']} logical CPUs "
                               f"({machine['usable_cpus']} usable, {machine['cpu_capability']})")
    print(f"machine: {where}; torch {machine['versions']['torch']} with {machine['torch_threads']} threads")
    print(f"cpu flags: {flags}; precision='auto' takes {choose_precision('auto', device)} here")
    print(f"matmul (2048³): fp32 {gflops:.0f} GFLOP/s, bf16 {bf16_gflops:.0f} GFLOP/s")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()))
    print(f"data: STS Benchmark test, {len(sentences):,} sentences, {n_tokens:,} tokens "
          f"(mean {n_tokens / len(sentences):.1f}, max {max(lengths)}; max_seq_length {ours.max_seq_length}); "
          f"{n_distinct:,} distinct")
    print(f"model: {Path(folder).name}, {flop_per_token / 1e6:.1f} MFLOP/token: roofline "
          f"{gflops * 1e9 / flop_per_token:,.0f} tokens/s; device {device}; "
          f"best of {repeats} runs after a warm-up\n")
    return {"machine": machine, "tokens": n_tokens, "distinct_sentences": n_distinct,
            "flop_per_token": flop_per_token}


def time_encoders(systems, folder, sentences, batch_sizes, repeats, device):
    """Seconds of every run and the last vectors, per (system, batch size); the systems interleaved."""
    encoders = {}
    for system in systems:
        encoders[system] = make_encoder(system, folder, device)
        encoders[system](sentences[: 2 * max(batch_sizes)], max(batch_sizes))  # warm-up
    runs = {(s, b): [] for s in systems for b in batch_sizes}
    vectors = {}
    for _ in range(repeats):
        for b in batch_sizes:
            for system in systems:  # interleaved: drift on a shared machine hits every system alike
                t0 = time.perf_counter()
                vectors[system, b] = encoders[system](sentences, b)
                sync(device)
                runs[system, b].append(time.perf_counter() - t0)
    return runs, vectors


def table(systems, batch_sizes, runs, vectors, memory, setup, n_sentences, device, gold=()) -> list[dict]:
    """One row per (batch size, system): throughput, roofline share, ratios, memory, max |Δ|, STSb test
    Spearman ×100 (of cos(u, v) over the sentence pairs, against ``gold``); printed."""
    from .precisions import PRECISION

    import numpy as np

    fmt = lambda v, spec: format(v, spec) if v is not None else "-"  # noqa: E731
    reference = "sentence-transformers" if "sentence-transformers" in systems else systems[0]
    hf = "hf-bert-mean" if "hf-bert-mean" in systems else None
    flop_per_token, gflops = setup["flop_per_token"], setup["machine"]["matmul_gflops"]
    header = (f"{'system':<26} {'precision':<14} {'batch':>5} {'sent/s':>7} {'tokens/s':>8} {'% roof':>6} "
              f"{'vs ST':>6} {'vs HF':>6} {'encode MiB':>10} {'peak MiB':>8} {'max|Δ| vs ST':>12} {'STSb ρ':>6}")
    print(header)
    print("-" * len(header))
    rows = []
    for b in batch_sizes:
        for system in systems:
            t = min(runs[system, b])
            mem = memory.get((system, b)) or {}
            delta = float(np.abs(vectors[system, b] - vectors[reference, b]).max())
            row = {"system": system, "batch_size": b, "seconds": t, "runs": runs[system, b],
                   "sentences_per_s": n_sentences / t, "tokens_per_s": setup["tokens"] / t,
                   "roofline_share": setup["tokens"] / t * flop_per_token / (gflops * 1e9),
                   "ratio_vs_reference": min(runs[reference, b]) / t,
                   "ratio_vs_hf": min(runs[hf, b]) / t if hf else None,
                   "encode_mib": mem.get("encode_mib"), "peak_mib": mem.get("peak_mib"), "max_abs_diff": delta,
                   "precision": PRECISION.get(system, "fp32"), "stsb_spearman": stsb_spearman(vectors[system, b], gold)}
            rows.append(row)
            print(f"{system:<26} {row['precision']:<14} {b:>5} {row['sentences_per_s']:>7.0f} "
                  f"{row['tokens_per_s']:>8.0f} "
                  f"{100 * row['roofline_share']:>5.0f}% {row['ratio_vs_reference']:>5.2f}x "
                  f"{fmt(row['ratio_vs_hf'], '>5.2f')}{'x' if hf else ''} {fmt(row['encode_mib'], '>10.0f')} "
                  f"{fmt(row['peak_mib'], '>8.0f')} {delta:>12.1e} {fmt(row['stsb_spearman'], '>6.2f')}")
    print(f"\nvs ST / vs HF: throughput relative to {reference} / hf-bert-mean at the same batch size. % roof: "
          f"share of the measured matmul speed. encode MiB: peak {'GPU' if device != 'cpu' else 'resident'} memory "
          f"during the encode above the loaded model; peak MiB: the whole process (fresh subprocess; not "
          f"measured for the ONNX rows, whose export would dominate it). STSb ρ: Spearman ×100 of cos(u, v) "
          f"against the gold scores, STSb test.")
    return rows


def run(args) -> int:
    import torch

    from minisbert.io.data import load_stsb, resolve_data_dir
    from minisbert.io.files import write_json

    from .precisions import PRECISION
    from minisbert.io.weights import resolve_model_dir

    check_args(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    folder = resolve_model_dir(args.model)
    data_dir = str(resolve_data_dir(args.data_dir))
    sentences = load_sentences(data_dir, args.limit)
    systems = list(dict.fromkeys(args.systems))

    setup = describe(folder, sentences, args.device, args.repeats)
    runs, vectors = time_encoders(systems, folder, sentences, args.batch_sizes, args.repeats, args.device)
    memory = {}
    if not args.no_memory:
        from .precisions import ONNX_SYSTEMS

        for b in args.batch_sizes:
            for system in (s for s in systems if s not in ONNX_SYSTEMS):
                memory[system, b] = measure_memory(system, folder, b, data_dir, args.limit, args.device, args.threads)
    gold = [p.score for p in load_stsb("test", data_dir)]
    rows = table(systems, args.batch_sizes, runs, vectors, memory, setup, len(sentences), args.device, gold)

    training, trained_scores = {}, {}
    trainers = [s for s in systems if s in TRAINERS]
    if args.train_steps and trainers:
        training = time_training(trainers, folder, data_dir, args.device, args.train_steps, args.repeats)
        if args.train_eval_steps:
            trained_scores = train_and_score(trainers, folder, data_dir, args.device, args.train_eval_steps)
        ref = training.get("sentence-transformers")
        print(f"\ntraining (regression objective, batch 16, {args.train_steps} steps, best of {args.repeats}; "
              f"STSb test Spearman after {args.train_eval_steps} steps of the short fixed recipe):")
        for system, rate in training.items():
            ratio = f"  {rate / ref:.2f}x vs ST" if ref else ""
            score = trained_scores.get(system)
            score = f"  STSb {score:.2f}" if score is not None else ""
            print(f"  {system:<26} {PRECISION.get(system, 'fp32'):<5} {rate:6.2f} steps/s{ratio}{score}")

    if args.json:
        result = {"machine": setup["machine"], "sentences": len(sentences),
                  "distinct_sentences": setup["distinct_sentences"], "tokens": setup["tokens"],
                  "flop_per_token": setup["flop_per_token"], "rows": rows, "training_steps_per_s": training,
                  "training_stsb_spearman": trained_scores, "train_eval_steps": args.train_eval_steps}
        write_json(args.json, result)
    return 0


def main(argv: list[str] | None = None) -> int:
    return command_line("benchmarks.bench", sys.modules[__name__], argv)


if __name__ == "__main__":
    if len(sys.argv) == 9 and sys.argv[1] == "--memory-child":
        _, _, system_, folder_, batch_, data_, limit_, device_, threads_ = sys.argv
        print(json.dumps(memory_child(system_, folder_, int(batch_), data_ or None, int(limit_) or None,
                                      device_, int(threads_) or None)))
    else:
        sys.exit(main())
