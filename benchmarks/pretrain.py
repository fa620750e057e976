"""Pre-training throughput: minisbert's BertForPreTraining against transformers' on the same batches.

    python -m benchmarks.pretrain [--size mini] [--batch-size 32] [--repeats 5] [--json PATH]

Both models hold the same weights and train on the same masked batches of the real corpus (packed
[CLS] A [SEP] B [SEP] examples of 128 tokens, 15% masked), one AdamW step each, interleaved so that a
busy machine slows both alike. Rows:

    transformers            BertForPreTraining, SDPA attention, vocabulary projection at every position
    minisbert decode=all    the same computation
    minisbert               decode="labelled": the projection onto 30,522 tokens only at the ~15% scored rows

and each under bf16 autocast where the CPU has bf16 instructions. Reported: the median step time, real
tokens per second, and the ratio to transformers in the same precision.
"""

from __future__ import annotations

import argparse
import copy
import glob
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see experiments/common.py

import numpy as np  # noqa: E402
import torch  # noqa: E402

from minisbert import BertForPreTraining  # noqa: E402
from minisbert.io.data import resolve_data_dir  # noqa: E402
from minisbert.io.files import write_json  # noqa: E402
from minisbert.speed.hardware import describe_cpu, has_bf16  # noqa: E402
from minisbert.pretraining import PretrainConfig, bert_config, prepare_data, to_batch  # noqa: E402
from minisbert.tokenizer import load_tokenizer  # noqa: E402
from minisbert.io.weights import resolve_model_dir  # noqa: E402

from .machine import machine_description  # noqa: E402


def batches(size: str, batch_size: int, count: int, data_dir: Path) -> tuple[list[dict], int]:
    tokenizer = load_tokenizer(resolve_model_dir("all-MiniLM-L6-v2"))
    config = PretrainConfig(size=size, batch_size=batch_size, max_steps=1, eval_examples=8)
    data = prepare_data(sorted(glob.glob(str(data_dir / "corpus" / "austen.txt"))), tokenizer, config)
    rng = np.random.default_rng(0)
    out = []
    for i in range(count):
        index = np.sort(rng.choice(len(data.train), batch_size, replace=False))
        out.append(to_batch(data.train, index, data, config, torch.Generator().manual_seed(i), len(tokenizer.vocab)))
    return out, len(tokenizer.vocab)


def make_step(model, hf: bool, decode: str, bf16: bool):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(batch):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if hf:
                out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                            token_type_ids=batch["token_type_ids"], labels=batch["labels"],
                            next_sentence_label=batch["next_sentence_label"])
            else:
                out = model(**batch, decode=decode)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
        return out.loss.item()

    return step


def main(argv=None) -> int:
    import transformers

    p = argparse.ArgumentParser(prog="python -m benchmarks.pretrain", description=__doc__.splitlines()[0])
    p.add_argument("--size", default="mini")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5, help="timed steps per row (after one warm-up step)")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)

    data, vocab_size = batches(args.size, args.batch_size, args.repeats + 1, resolve_data_dir())
    torch.manual_seed(0)
    config = bert_config(args.size, vocab_size, 128)
    ours = BertForPreTraining(config).train()
    ours.bert.use_sdpa = True
    hf = transformers.BertForPreTraining(transformers.BertConfig(**config.to_dict(), attn_implementation="sdpa"))
    missing = hf.load_state_dict(ours.state_dict(), strict=False)
    assert not missing.unexpected_keys and set(missing.missing_keys) <= {"cls.predictions.decoder.weight",
                                                                           "cls.predictions.decoder.bias"}, missing
    hf.train()

    precisions = ["fp32"] + (["bf16"] if has_bf16() else [])
    rows = {}
    for precision in precisions:
        bf16 = precision == "bf16"
        rows[f"transformers {precision}"] = make_step(copy.deepcopy(hf), True, "all", bf16)
        rows[f"minisbert decode=all {precision}"] = make_step(copy.deepcopy(ours), False, "all", bf16)
        rows[f"minisbert {precision}"] = make_step(copy.deepcopy(ours), False, "labelled", bf16)
    times: dict[str, list[float]] = {name: [] for name in rows}
    for i, batch in enumerate(data):  # interleaved: every row runs batch i before any row runs batch i + 1
        for name, step in rows.items():
            torch.manual_seed(i)  # the same dropout draws for every row
            started = time.perf_counter()
            step(batch)
            if i > 0:
                times[name].append(time.perf_counter() - started)

    tokens = statistics.mean(int(b["attention_mask"].sum()) for b in data[1:])
    masked = statistics.mean(int((b["labels"] != -100).sum()) for b in data[1:])
    print(f"cpu: {describe_cpu()}")
    print(f"{args.size} BERT, batch {args.batch_size} x 128, {tokens:.0f} real tokens and {masked:.0f} masked per batch, "
          f"median of {args.repeats} steps")
    result = {"machine": machine_description(), "size": args.size, "batch_size": args.batch_size,
              "tokens_per_batch": tokens, "masked_per_batch": masked, "rows": {}}
    print(f"{'':32} {'s/step':>8} {'tokens/s':>9} {'vs transformers':>16}")
    for name, values in times.items():
        precision = name.split()[-1]
        median = statistics.median(values)
        ratio = statistics.median(times[f"transformers {precision}"]) / median
        result["rows"][name] = {"seconds_per_step": median, "tokens_per_second": tokens / median,
                                "vs_transformers": ratio}
        print(f"{name:32} {median:8.3f} {tokens / median:9.0f} {ratio:15.2f}x")
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
