"""What a user could pick instead of fp32: bf16, torch dynamic int8, ONNX Runtime fp32 and dynamic int8.

The encoders of ``benchmarks/bench.py``'s extra rows, each a function (sentences, batch_size) -> (N, H)
float32 array of unit vectors, built from the same model folder:

* ``minisbert-bf16``: ``SentenceBert.encode(..., compute="bf16")`` (minisbert/speed/fast.py in bf16), and
  ``minisbert-bf16-one-worker`` the same with ``workers=1`` (one batch at a time on every thread);
* ``torch-int8``: minisbert's plain forward with every ``nn.Linear`` of the encoder replaced by
  ``torch.ao.quantization.quantize_dynamic`` (int8 weights, activations quantized per batch at run time);
* ``onnxruntime-fp32``: the model exported to ONNX with mean pooling and L2 normalisation inside the
  graph (transformers' ``BertModel`` through ``torch.onnx.export``; minisbert's own forward checks its
  inputs with data-dependent branches, which ``torch.export`` cannot trace), run by ONNX Runtime;
* ``onnxruntime-int8``: that graph after ``onnxruntime.quantization.quantize_dynamic`` (int8 weights),
  the recipe behind sentence-transformers' "onnx-int8" backend.

The ONNX rows batch as sentence-transformers does (sorted by length, padded per batch). onnx, onnxscript
and onnxruntime are the ``bench`` extra (``pip install -e '.[bench]'``): the library never needs them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

PRECISION = {"minisbert": "fp32", "minisbert-no-dedup": "fp32", "minisbert-one-worker": "fp32",
             "minisbert-plain": "fp32", "minisbert-bf16": "bf16", "minisbert-bf16-one-worker": "bf16",
             "sentence-transformers": "fp32", "hf-bert-mean": "fp32", "torch-int8": "int8 (dynamic)",
             "onnxruntime-fp32": "fp32", "onnxruntime-int8": "int8 (dynamic)"}
ONNX_SYSTEMS = ("onnxruntime-fp32", "onnxruntime-int8")


def make_precision_encoder(system: str, folder, device: str = "cpu"):
    """The encoder of one of this module's systems, or None for a system it does not define."""
    if system in ("minisbert-bf16", "minisbert-bf16-one-worker"):
        from minisbert import SentenceBert

        model = SentenceBert.from_pretrained(folder).to(device)
        workers = 1 if system == "minisbert-bf16-one-worker" else None  # one batch at a time, on every thread
        return lambda sentences, bs: model.encode(sentences, batch_size=bs, normalize=True, progress=False,
                                                  compute="bf16", workers=workers)
    if system == "torch-int8":
        if device != "cpu":
            raise ValueError("torch dynamic int8 (quantize_dynamic) runs on the CPU only")
        import torch
        from torch import nn

        from minisbert import SentenceBert

        model = SentenceBert.from_pretrained(folder)
        model.bert = torch.ao.quantization.quantize_dynamic(model.bert, {nn.Linear}, dtype=torch.qint8)
        model.fast_inference = False  # the fast path reads fp32 weight tensors; the quantized layers have none
        return lambda sentences, bs: model.encode(sentences, batch_size=bs, normalize=True, progress=False)
    if system in ONNX_SYSTEMS:
        return onnx_encoder(folder, quantized=system == "onnxruntime-int8", device=device)
    return None


# ----------------------------------------------------------------------------------------------------
# ONNX: export once per run into a temporary folder, then an ONNX Runtime session


_EXPORTS: dict[str, Path] = {}  # model folder -> exported fp32 graph, for this process
_TMP = None


def export_onnx(folder) -> Path:
    """``folder``'s encoder + mean pooling + L2 normalisation as an ONNX graph (exported once per process)."""
    global _TMP
    key = str(Path(folder).resolve())
    if key in _EXPORTS:
        return _EXPORTS[key]
    import torch
    import torch.nn.functional as F
    import transformers

    class MeanPooledBert(torch.nn.Module):
        """ids, mask, types (B, T) -> unit sentence vectors (B, H): what the sentence-transformers folder computes."""

        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state  # (B, T, H)
            mask = attention_mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
            u = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, H)
            return F.normalize(u, p=2, dim=-1)

    hf = transformers.BertModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    _TMP = _TMP or tempfile.TemporaryDirectory(prefix="minisbert-onnx-")
    path = Path(_TMP.name) / f"model{len(_EXPORTS)}.onnx"
    # An example batch that looks like a real one (distinct ids, a padded row), so that nothing is traced
    # for a special case (all-ones masks, repeated ids); batch size and length stay dynamic.
    ids = torch.randint(1000, 2000, (3, 7), generator=torch.Generator().manual_seed(0))  # (B, T)
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=512)
    shapes = ({0: batch, 1: seq},) * 3
    torch.onnx.export(MeanPooledBert(hf), (ids, mask, torch.zeros_like(ids)), str(path), dynamo=True,
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["sentence_vector"], dynamic_shapes=shapes, verbose=False)
    _EXPORTS[key] = path
    return path


def quantize_onnx(path: Path) -> Path:
    """The dynamic int8 version of an exported graph (int8 weights of every MatMul)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = path.with_name(path.stem + "-int8.onnx")
    if not out.exists():
        quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8)
    return out


def onnx_encoder(folder, quantized: bool = False, device: str = "cpu"):
    import numpy as np
    import onnxruntime as ort
    import torch

    from minisbert.tokenizer import load_tokenizer
    from minisbert.io.weights import resolve_model_dir

    from .bench import max_seq_length

    path = export_onnx(folder)
    if quantized:
        path = quantize_onnx(path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # the same threads as the torch rows
    providers = ["CUDAExecutionProvider"] if device.startswith("cuda") else ["CPUExecutionProvider"]
    session = ort.InferenceSession(str(path), options, providers=providers)
    tokenizer = load_tokenizer(resolve_model_dir(folder))
    max_len = max_seq_length(folder)

    def encode(sentences, bs):
        order = np.argsort([-len(s) for s in sentences], kind="stable")  # as sentence-transformers sorts
        rows = []
        for start in range(0, len(sentences), bs):
            idx = order[start:start + bs]
            batch = tokenizer([sentences[i] for i in idx], padding=True, truncation=True, max_length=max_len,
                              return_tensors="pt")
            feed = {k: batch[k].numpy() for k in ("input_ids", "attention_mask", "token_type_ids")}
            rows.append((idx, session.run(None, feed)[0]))
        out = np.empty((len(sentences), rows[0][1].shape[1]), dtype=np.float32)
        for idx, vectors in rows:
            out[idx] = vectors
        return out

    return encode
