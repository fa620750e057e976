"""A layer-by-layer diff against Hugging Face: the tool to reach for when parity breaks.

Because minisbert's modules carry the same names as the checkpoint keys (and so as transformers'
modules), one list of module paths addresses the same sub-module in both models. A forward hook on each
records its output; the first path whose outputs differ is where to look.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..bert import BertModel
from ..checks.errors import UserError
from ..io.weights import resolve_model_dir
from ..tokenizer import BertTokenizer


def traced_module_names(num_layers: int) -> list[str]:
    names = ["embeddings"]
    for i in range(num_layers):
        names += [f"encoder.layer.{i}.attention.self", f"encoder.layer.{i}.attention",
                  f"encoder.layer.{i}.intermediate", f"encoder.layer.{i}"]
    return names + ["pooler"]


def _first_tensor(output):
    while isinstance(output, (tuple, list)):
        output = output[0]
    return output


def record_outputs(model: torch.nn.Module, names: list[str], *args, **kwargs) -> dict[str, torch.Tensor]:
    """Run ``model(*args, **kwargs)`` and return the output of each named sub-module."""
    outputs, handles = {}, []
    modules = dict(model.named_modules())
    for name in names:
        hook = lambda _module, _inputs, out, name=name: outputs.__setitem__(name, _first_tensor(out).detach())
        handles.append(modules[name].register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return outputs


def trace_against_hf(folder: str | Path, texts: list[str]) -> list[tuple[str, float]]:
    """(module path, max |Δ| at real tokens) for minisbert vs transformers' BertModel on ``texts``."""
    try:
        import transformers
    except ImportError:
        raise UserError("trace compares against transformers, which is not installed: pip install 'minisbert[test]'") from None

    folder = resolve_model_dir(folder)
    ours = BertModel.from_pretrained(folder)
    theirs = transformers.BertModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    batch = BertTokenizer.from_pretrained(folder)(texts)
    names = traced_module_names(ours.config.num_hidden_layers)
    a = record_outputs(ours, names, batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    b = record_outputs(theirs, names, input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       token_type_ids=batch["token_type_ids"])
    real = batch["attention_mask"].bool()  # (B, T): padded positions are not compared
    rows = []
    for name in names:
        diff = (a[name] - b[name]).abs()
        if diff.dim() == 3:  # (B, T, ·): keep real tokens only
            diff = diff[real]
        rows.append((name, diff.max().item()))
    return rows
