"""Sentence-BERT: one BERT, one pooling layer, used on each sentence on its own.

Reimers & Gurevych 2019, "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks"
(https://arxiv.org/abs/1908.10084).

Comparing two sentences with BERT alone means feeding both together, ``[CLS] a [SEP] b [SEP]`` (a
cross-encoder): finding the most similar pair among n = 10,000 sentences then takes n(n-1)/2 =
49,995,000 forward passes, about 65 hours on a V100 (section 1 of the paper). SBERT instead runs each
sentence through the *same* network on its own (a siamese network: two towers that share every weight,
figure 1) and pools its token vectors into one sentence vector u:

    text ──tokenize──▶ ids (B, T) ──BertModel──▶ token vectors (B, T, H) ──pooling──▶ u (B, H) [──L2──▶ u/|u|]

Every sentence is encoded once (10,000 forward passes) and every pair is then compared with a cheap
distance: cosine similarity of all pairs is one (n, H) × (H, n) matrix product, about 5 seconds in the
paper. Training (``minisbert/objectives.py``) shapes the vectors so that this distance means something.

``SentenceBert.from_pretrained`` reads a sentence-transformers model folder (``modules.json`` listing
Transformer → Pooling [→ Normalize]) or a plain BERT folder; ``save`` writes one that
sentence-transformers 6.x loads with ``SentenceTransformer(folder)`` and that gives the same vectors.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .bert import BertModel
from .checks import check_choice, check_int_range, check_optional_bool, check_pooling_mode, check_positive_int, check_texts
from .io.files import read_json, read_st_folder, write_folder, write_json, write_st_bi_encoder_files
from .io.weights import resolve_model_dir, save_tensors
from .pooling import Pooling
from .quantization import PRECISIONS, quantize_embeddings
from .similarity import (cos_sim, dot_score, euclidean_sim, manhattan_sim, pairwise_cos_sim, pairwise_dot_score,
                         pairwise_euclidean_sim, pairwise_manhattan_sim)
from .speed.batching import run_batched
from .speed.fast import FastEncoder
from .speed.hardware import resolve_precision
from .speed.packed import packed_last_hidden_state
from .speed.pool import EncodePool
from .tokenizer import load_tokenizer


# similarity_fn_name -> (matrix function, pairwise function): sentence-transformers' SimilarityFunction names
SIMILARITY_FUNCTIONS = {
    "cosine": (cos_sim, pairwise_cos_sim),
    "dot": (dot_score, pairwise_dot_score),
    "euclidean": (euclidean_sim, pairwise_euclidean_sim),
    "manhattan": (manhattan_sim, pairwise_manhattan_sim),
}

class SentenceBert(nn.Module):
    """The SBERT bi-encoder: ``u = pool(BERT(a))``, ``v = pool(BERT(b))`` with one shared BERT.

    >>> sbert = SentenceBert.from_pretrained("all-MiniLM-L6-v2")
    >>> emb = sbert.encode(["A man is playing a guitar.", "Someone plays an instrument."])  # (2, 384)
    >>> float(emb[0] @ emb[1])  # cosine similarity: this model's vectors are unit length

    Args:
        bert: the encoder; its weights are shared by both towers (they are one module).
        tokenizer: a ``minisbert.tokenizer.BertTokenizer`` matching the encoder's vocabulary.
        pooling: ``"mean"`` (the paper's default and best, table 6), ``"max"`` or ``"cls"``.
        normalize: L2-normalise every sentence vector, so that the dot product is the cosine similarity
            (all-MiniLM-L6-v2 was trained that way; the original SBERT models were not).
        max_seq_length: longer inputs are truncated to this many tokens, [CLS] and [SEP] included.
            256 is what all-MiniLM-L6-v2 was trained with; attention costs O(T²), and longer inputs
            carry little extra meaning for a single sentence vector.
        prompts: named texts put before a sentence when it is encoded, e.g. ``{"query": "query: "}``
            (models trained with instructions want them); ``encode(prompt_name="query")`` picks one.
            "query" and "document" are always there (empty unless given), as in sentence-transformers.
        default_prompt_name: the prompt used when ``encode`` names none (None: no prompt).
        truncate_dim: keep only the first ``truncate_dim`` numbers of each sentence vector (Matryoshka
            models, Kusupati et al. 2022, https://arxiv.org/abs/2205.13147, put the most information
            first); None keeps all H.
    """

    def __init__(self, bert: BertModel, tokenizer, pooling: str = "mean", normalize: bool = False,
                 max_seq_length: int = 256, *, prompts: dict[str, str] | None = None,
                 default_prompt_name: str | None = None, truncate_dim: int | None = None):
        super().__init__()
        if not isinstance(bert, BertModel):
            raise TypeError(f"bert must be a minisbert BertModel, got {type(bert).__name__}")
        limit = bert.config.max_position_embeddings
        check_int_range(max_seq_length, "max_seq_length", 2, limit, f" (2: [CLS] and [SEP]; {limit}: the model's positions)")
        self.bert = bert
        self.tokenizer = tokenizer
        self.pooling = Pooling(pooling)
        self.normalize = bool(normalize)
        self.max_seq_length = max_seq_length
        # What ``similarity`` compares vectors with: "cosine", "dot", "euclidean" or "manhattan" (negated
        # distances, so higher is more similar), as sentence-transformers' ``similarity_fn_name``.
        self.similarity_fn_name = "cosine"
        check_prompts(prompts, default_prompt_name)
        self.prompts = {"query": "", "document": "", **(prompts or {})}
        self.default_prompt_name = default_prompt_name
        self.truncate_dim = check_truncate_dim(truncate_dim, bert.config.hidden_size)

        # Speed only: each switch gives the same vectors (minisbert/speed/README.md pairs each with its test).
        self.fast_inference = True  # encode() runs minisbert/speed/fast.py's FastEncoder (False: the plain forward)
        self.deduplicate = True  # encode() runs each distinct token sequence once and copies its vector to repeats
        self.packed_training = False  # forward on packed tokens (minisbert/speed/packed.py); set by train()
        self._fast = None  # the FastEncoder, made on first use

    @property
    def dim(self) -> int:
        """The size of a sentence vector: BERT's hidden size H (pooling keeps it)."""
        return self.bert.config.hidden_size

    @property
    def device(self) -> torch.device:
        return self.bert.embeddings.word_embeddings.weight.device

    def extra_repr(self) -> str:
        return f"normalize={self.normalize}, max_seq_length={self.max_seq_length}"

    # ------------------------------------------------------------------------------------------------
    # The siamese network

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """A padded batch of ``texts`` (each truncated to ``max_seq_length``), on the model's device."""
        texts = check_texts(texts)
        # on the right whatever tokenizer.padding_side says: BERT's position ids count from the first token
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_seq_length,
                               return_tensors="pt", padding_side="right")
        return {k: v.to(self.device) for k, v in batch.items()}

    def _pooled(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """BERT, then pooling over the real tokens: (B, T) ids → (B, H), before any normalisation."""
        mask = batch["attention_mask"]
        if self.packed_training:  # speed only: the same maths with no work on [PAD] (minisbert/speed/packed.py)
            h = packed_last_hidden_state(self.bert, batch["input_ids"], mask, batch.get("token_type_ids"))
        else:
            h = self.bert(batch["input_ids"], mask, batch.get("token_type_ids")).last_hidden_state
        return self.pooling(h, mask)  # (B, H)

    def embed(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sentence vectors (B, H) of one tokenized batch, with gradients when training."""
        u = self._pooled(batch)
        return F.normalize(u, p=2, dim=-1) if self.normalize else u

    def forward(self, batch_a: dict[str, torch.Tensor], batch_b: dict[str, torch.Tensor]):
        """(u, v) for two batches of sentences: the same modules run on each input independently.

        Nothing of a reaches b's vector or the other way round (unlike a cross-encoder), which is what
        lets each vector be computed once and compared with any other later.
        """
        return self.embed(batch_a), self.embed(batch_b)

    # ------------------------------------------------------------------------------------------------
    # Inference

    def _forward_for_encode(self, batch: dict[str, torch.Tensor], precision: str = "fp32") -> torch.Tensor:
        """The one forward call ``encode`` makes per batch: (B, T) ids → (B, H) pooled, not normalised.

        ``precision``: "fp32" or "bf16" (already resolved from "auto"). The plain path is ``_pooled``, the
        forward of training (in bf16 under ``torch.autocast``); with ``self.fast_inference`` (the default)
        the same maths runs as ``minisbert.speed.fast.FastEncoder`` instead: packed tokens, prepared
        weights (``tests/test_fast.py`` checks both give the same vectors within 1e-6).
        """
        if self.fast_inference:
            return self._fast_encoder()(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"),
                                        pooling=self.pooling.mode, precision=precision)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            return self._pooled(batch).float()

    def _fast_encoder(self) -> FastEncoder:
        """The ``FastEncoder`` of this model's BERT, made on first use (and again after a new ``.bert``)."""
        if self._fast is None or self._fast.bert is not self.bert:
            self._fast = FastEncoder(self.bert)
        return self._fast

    def encode(self, sentences, batch_size: int = 32, normalize: bool | None = None,
               convert_to: str = "numpy", progress: bool | None = None, precision: str | None = "float32", *,
               compute: str | None = None, prompt_name: str | None = None, prompt: str | None = None,
               output_value: str | None = "sentence_embedding", truncate_dim: int | None = None,
               show_progress_bar: bool | None = None, normalize_embeddings: bool = False,
               convert_to_numpy: bool = True, convert_to_tensor: bool = False, device=None,
               workers: int | None = None, pool=None, chunk_size: int | None = None):
        """Sentence vectors for a list of strings: (N, H), row i for ``sentences[i]``.

        One string gives one vector (H,); an empty list gives an empty (0, H) result. Each sentence is
        tokenized (truncated at ``max_seq_length``), run through BERT and pooled, as ``embed`` does, with no
        autograd. Sentences are batched in order of length, so each batch is padded only to its own longest
        sentence; padding cannot change a vector (padded keys get zero attention weight and pooling is
        masked), so a sentence's vector does not depend on its batch neighbours.

        Done for speed, none of which changes a vector beyond float rounding (``minisbert/speed/README.md``):
        the fast path (``self.fast_inference``), one BERT pass per distinct sentence (``self.deduplicate``),
        and on the CPU batches side by side, one per thread (``workers``).

        Args:
            sentences: a string or a list of strings.
            batch_size: sentences per forward pass.
            normalize: L2-normalise the vectors; ``None`` follows the model (``self.normalize``).
            convert_to: ``"numpy"`` (a float32 array) or ``"torch"`` (a tensor on the model's device).
            progress: show a tqdm bar; ``None`` shows one on a long run (``minisbert.speed.batching.show_progress``).
            precision: the numbers of the output, as sentence-transformers: ``"float32"`` (or None), or
                quantised after the model by ``minisbert.quantization.quantize_embeddings``: ``"int8"``,
                ``"uint8"`` (ranges measured on these sentences' vectors), ``"binary"``, ``"ubinary"``
                (8 signs per byte). The old values "fp32", "bf16", "auto" still work, as ``compute``,
                with a DeprecationWarning.
            compute: the arithmetic of the forward pass: ``"fp32"`` (the default; within 1e-6 of
                sentence-transformers), ``"bf16"`` (matrix products in bfloat16, fp32 vectors out; within
                about 2e-3 on a unit vector) or ``"auto"`` (bf16 where the CPU or GPU has bf16
                instructions, else fp32; ``minisbert.speed.hardware``).
            workers: how many batches run at once, each on one CPU thread; None: one per torch thread
                on the CPU (``torch.get_num_threads()``), 1 on a GPU. 1 runs each batch on all threads.

        sentence-transformers' names, with its meanings (``SentenceTransformer.encode``):
            prompt_name: the key of ``self.prompts`` whose text goes before every sentence; None: the
                model's ``default_prompt_name``, if any.
            prompt: a text to put before every sentence (wins over ``prompt_name``).
            output_value: ``"sentence_embedding"`` (the default); ``"token_embeddings"``: BERT's contextual
                word vectors, one (T_i, H) tensor per sentence over its T_i real tokens ([CLS] and [SEP]
                included), before pooling; ``None``: a dict per sentence with ``input_ids``,
                ``token_type_ids``, ``attention_mask``, ``token_embeddings`` (unpadded) and
                ``sentence_embedding``. Both give tensors on the model's device, whatever convert_to says.
            truncate_dim: keep the first ``truncate_dim`` numbers of each vector (None: ``self.truncate_dim``),
                cut after the model (so after its own normalisation) and before ``normalize_embeddings``.
            show_progress_bar: the same as ``progress`` (and wins over it when given).
            normalize_embeddings: True normalises the vectors whatever the model does (after truncation);
                False leaves them as the model makes them (a model with a Normalize module still normalises).
            convert_to_numpy: True (the default): a numpy array, as ``convert_to="numpy"``; False: a
                list of N one-dimensional tensors on the model's device.
            convert_to_tensor: True: one (N, H) tensor on the model's device; wins over
                ``convert_to_numpy``, as in sentence-transformers.
            device: run on this device; the model moves there and stays (as sentence-transformers does).
                A list of devices encodes on a pool of processes, one per device, started and stopped
                for this call.
            pool, chunk_size: encode on the processes of ``start_multi_process_pool``, ``chunk_size``
                sentences per message (None: about a tenth of each process's share, at most 5,000).

        A model whose weights are bf16 gives float32 numpy arrays and bf16 tensors, as sentence-transformers.
        A vector with NaN or Inf in it is never returned: ``encode`` raises a ValueError naming the cause.
        One difference: an empty list gives an empty (0, H) array or tensor, where sentence-transformers
        gives a flat empty one (shape (0,)).
        """
        single = isinstance(sentences, str)
        sentences = check_texts([sentences] if single else sentences, name="sentences")
        check_positive_int(batch_size, "batch_size")
        check_positive_int(workers, "workers", allow_none=True)
        check_positive_int(chunk_size, "chunk_size", allow_none=True)
        check_choice(convert_to, "convert_to", ("numpy", "torch"))
        check_choice(output_value, "output_value", ("sentence_embedding", "token_embeddings", None))
        check_optional_bool(normalize, "normalize")
        for name, flag in (("normalize_embeddings", normalize_embeddings), ("convert_to_numpy", convert_to_numpy),
                           ("convert_to_tensor", convert_to_tensor)):
            check_optional_bool(flag, name)
        check_optional_bool(show_progress_bar, "show_progress_bar")
        precision, compute = split_precision(precision, compute, "encode")
        truncate_dim = check_truncate_dim(self.truncate_dim if truncate_dim is None else truncate_dim, self.dim)
        prompt = self._resolve_prompt(prompt, prompt_name)
        if prompt:
            sentences = [prompt + s for s in sentences]
        pool_devices = list(device) if isinstance(device, (list, tuple)) else None  # a pool for this call only
        if pool_devices is not None:
            device = None
            if pool is not None:
                raise ValueError("pass pool= or a list of devices as device=, not both")
        if pool is not None and not isinstance(pool, EncodePool):
            raise TypeError(f"pool must be what start_multi_process_pool() returns, got {type(pool).__name__}")
        if (pool is not None or pool_devices is not None) and output_value != "sentence_embedding":
            raise ValueError(f"pool= encodes sentence vectors only, not output_value={output_value!r}")
        renormalize = bool(truncate_dim) and (normalize_embeddings or normalize is True)  # unit length after the cut
        normalize = True if normalize_embeddings else self.normalize if normalize is None else normalize
        progress = progress if show_progress_bar is None else show_progress_bar
        # sentence-transformers' flags decide the output when they are not at their defaults
        output = "torch" if convert_to_tensor else "list" if not convert_to_numpy else convert_to
        if device is not None:
            self.move_to(device)
        compute = resolve_precision(compute, self.device)

        if output_value != "sentence_embedding":
            outputs = self._token_outputs(sentences, batch_size, compute, truncate_dim)
            if output_value == "token_embeddings":
                outputs = [o["token_embeddings"] for o in outputs]
            return outputs[0] if single else outputs

        if (pool is not None or pool_devices is not None) and sentences:
            with EncodePool(self, pool_devices) if pool is None else contextlib.nullcontext(pool) as workers_pool:
                out = workers_pool.encode(sentences, chunk_size=chunk_size, batch_size=batch_size,
                                          normalize=normalize, compute=compute)  # (N, H) float32 on the CPU
        else:
            out = self._sentence_vectors(sentences, batch_size, normalize, compute, progress, workers)  # (N, H)
        check_finite(self, out, sentences, "encode")
        if truncate_dim:
            out = out[:, :truncate_dim]  # (N, truncate_dim): Matryoshka, the first numbers carry the most
            if renormalize:
                out = F.normalize(out, p=2, dim=-1)

        if precision != "float32" and len(out):
            quantised = quantize_embeddings(out, precision)  # numpy (N, d) or (N, ceil(d / 8))
            result = torch.from_numpy(quantised) if output == "torch" else list(torch.from_numpy(quantised)) \
                if output == "list" else quantised
        elif output == "numpy":
            result = out.cpu().numpy()
        else:
            out = out.to(self._weight_dtype())  # a bf16 model gives bf16 tensors, as sentence-transformers
            result = list(out) if output == "list" else out  # N tensors (H,), as sentence-transformers returns
        return result[0] if single else result

    def _weight_dtype(self) -> torch.dtype:
        return self.bert.embeddings.word_embeddings.weight.dtype

    def _sentence_vectors(self, sentences: list[str], batch_size: int, normalize: bool, compute: str,
                          progress: bool | None, workers: int | None) -> torch.Tensor:
        """The (N, H) sentence vectors of ``encode`` (float32 at least), on the model's device."""
        if self.fast_inference:
            self._fast_encoder()  # made here, not by each worker thread

        def forward(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            u = self._forward_for_encode(batch, compute)  # (B, H)
            return F.normalize(u, p=2, dim=-1) if normalize else u

        # Every sentence's real token ids, unpadded and truncated at max_seq_length; minisbert/speed/batching.py
        # sorts, deduplicates, pads and batches them, and puts each vector back in its sentence's row.
        encoded = self.tokenizer(sentences, padding=False, truncation=True, max_length=self.max_seq_length,
                                 return_tensors=None)
        return run_batched(self, forward, encoded, width=self.dim, batch_size=batch_size,
                           pad_id=self.tokenizer.pad_token_id, deduplicate=self.deduplicate, progress=progress,
                           desc="encode", unit="sent", workers=workers)  # (N, H)

    def _token_outputs(self, sentences: list[str], batch_size: int, compute: str,
                       truncate_dim: int | None) -> list[dict[str, torch.Tensor]]:
        """Per sentence: its token ids, types and mask (T,), BERT's token vectors (T, H) over its T real
        tokens, and its sentence vector (H,), as the model makes it (pooled, normalised if the model is).

        The plain forward, one padded batch at a time in input order; each sentence's rows are cut back
        to its own length (padding changes no real token's vector: padded keys get zero attention).
        """
        outputs = []
        was_training = self.training
        self.eval()
        try:
            for start in range(0, len(sentences), batch_size):
                batch = self.tokenize(sentences[start:start + batch_size])  # (B, T) each
                with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16,
                                                            enabled=compute == "bf16"):
                    h = self.bert(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]).last_hidden_state
                    u = self.pooling(h, batch["attention_mask"])  # (B, H)
                h, u = h.to(self._weight_dtype()), u.to(self._weight_dtype())
                if self.normalize:
                    u = F.normalize(u, p=2, dim=-1)
                if truncate_dim:
                    u = u[:, :truncate_dim]
                for i, n in enumerate(batch["attention_mask"].sum(1).tolist()):
                    outputs.append({**{key: batch[key][i, :n] for key in ("input_ids", "token_type_ids", "attention_mask")},
                                    "token_embeddings": h[i, :n].clone(),  # (T_i, H): its real tokens only
                                    "sentence_embedding": u[i].clone()})  # (H,)
        finally:
            self.train(was_training)
        check_finite(self, [o["token_embeddings"] for o in outputs], sentences, "encode")
        return outputs

    def encode_query(self, sentences, prompt_name: str | None = None, prompt: str | None = None, **kwargs):
        """``encode`` for search queries, as sentence-transformers: with the model's "query" prompt
        unless ``prompt_name`` or ``prompt`` says otherwise (an empty one by default, so the
        ``default_prompt_name`` is not used)."""
        if prompt_name is None and prompt is None and "query" in self.prompts:
            prompt_name = "query"
        return self.encode(sentences, prompt_name=prompt_name, prompt=prompt, **kwargs)

    def encode_document(self, sentences, prompt_name: str | None = None, prompt: str | None = None, **kwargs):
        """``encode`` for the documents searched, as sentence-transformers: with the first of the
        model's "document", "passage" or "corpus" prompts unless ``prompt_name`` or ``prompt`` is given."""
        if prompt_name is None and prompt is None:
            prompt_name = next((p for p in ("document", "passage", "corpus") if p in self.prompts), None)
        return self.encode(sentences, prompt_name=prompt_name, prompt=prompt, **kwargs)

    def _resolve_prompt(self, prompt: str | None, prompt_name: str | None) -> str | None:
        """The text to put before each sentence: ``prompt``, else ``self.prompts[prompt_name]``, else the
        default prompt's text, else None."""
        if prompt is not None:
            if not isinstance(prompt, str):
                raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
            if prompt_name is not None:
                warnings.warn("pass prompt or prompt_name, not both: prompt_name is ignored", stacklevel=3)
            return prompt
        if prompt_name is not None:
            if prompt_name not in self.prompts:
                raise ValueError(f"Prompt name {prompt_name!r} not found in the configured prompts dictionary "
                                 f"with keys {list(self.prompts)!r} (prompt_name)")
            return self.prompts[prompt_name]
        if self.default_prompt_name is not None:
            return self.prompts.get(self.default_prompt_name)
        return None

    def start_multi_process_pool(self, target_devices: list[str] | None = None):
        """Worker processes, each with a copy of this model, for ``encode(..., pool=pool)``:
        ``target_devices`` lists one device per process (default: every GPU, else four CPU processes).

        The model is written to a temporary folder once and each worker loads it; sentences and vectors
        travel as JSON and raw float32 bytes, never pickled (``minisbert/speed/pool.py``). Stop it with
        ``stop_multi_process_pool(pool)`` or use it in a ``with`` block; the workers also end when this
        process does, however it ends.
        """
        return EncodePool(self, target_devices)

    @staticmethod
    def stop_multi_process_pool(pool) -> None:
        """End the worker processes of ``start_multi_process_pool``; encoding with the pool afterwards
        raises ``PoolStoppedError`` (a ValueError)."""
        if not isinstance(pool, EncodePool):
            raise TypeError(f"pool must be what start_multi_process_pool() returns, got {type(pool).__name__}")
        pool.stop()

    def move_to(self, device) -> "SentenceBert":
        """Move the model to ``device`` (``"cpu"``, ``"cuda"``, ``torch.device``), dropping weights prepared
        for the old one (the fast path's); the ``device=`` of ``encode`` and ``from_pretrained``."""
        device = torch.device(device)
        if self.device != torch.empty(0, device=device).device:  # "cuda" and "cuda:0" are one device
            self.to(device)
            self._fast = None
        return self

    # ------------------------------------------------------------------------------------------------
    # Comparing vectors, with the model's similarity function

    def similarity(self, a, b) -> torch.Tensor:
        """The (n, m) matrix of ``self.similarity_fn_name`` between the rows of a (n, H) and b (m, H),
        as ``SentenceTransformer.similarity``: cosine unless the model folder says otherwise."""
        return self._similarity_functions()[0](a, b)

    def similarity_pairwise(self, a, b) -> torch.Tensor:
        """The (n,) similarities of row i of a with row i of b, as ``SentenceTransformer.similarity_pairwise``."""
        return self._similarity_functions()[1](a, b)

    def _similarity_functions(self):
        check_choice(self.similarity_fn_name, "similarity_fn_name", tuple(SIMILARITY_FUNCTIONS))
        return SIMILARITY_FUNCTIONS[self.similarity_fn_name]

    # ------------------------------------------------------------------------------------------------
    # Model folders

    @classmethod
    def from_pretrained(cls, folder_or_name: str | Path, pooling: str | None = None, device=None, *,
                        prompts: dict[str, str] | None = None, default_prompt_name: str | None = None,
                        truncate_dim: int | None = None) -> "SentenceBert":
        """Load a sentence-transformers folder or a plain BERT folder, in eval mode.

        ``folder_or_name``: a folder, or a fetched model's name (``all-MiniLM-L6-v2``, or the hub's
        ``sentence-transformers/all-MiniLM-L6-v2``). ``device``: where the model lives (default the CPU).
        The similarity function (``similarity``) is the folder's ``config_sentence_transformers.json``
        ``similarity_fn_name``: cosine, dot, euclidean or manhattan; cosine when it names none.

        A sentence-transformers folder lists its modules in ``modules.json``: Transformer (BERT's
        ``config.json`` and ``model.safetensors``, in the root folder or a subfolder), Pooling (its
        ``config.json`` in the newer ``"pooling_mode": "mean"`` form or the legacy
        ``"pooling_mode_mean_tokens": true`` form) and optionally Normalize. The maximum sequence length
        comes from ``sentence_bert_config.json``, else ``tokenizer_config.json``'s ``model_max_length``,
        else the model's number of positions. A plain BERT folder gets mean pooling, no normalisation.
        ``pooling=`` overrides the folder's mode. ``prompts``, ``default_prompt_name`` and ``truncate_dim``
        come from ``config_sentence_transformers.json`` (as sentence-transformers writes them); given here,
        they win (the prompts given are added to the folder's).
        """
        folder = resolve_model_dir(folder_or_name)
        spec = read_st_folder(folder)
        mode = pooling if pooling is not None else spec["pooling"]
        check_pooling_mode(mode)

        bert = BertModel.from_pretrained(spec["bert_folder"])
        tokenizer = load_tokenizer(spec["bert_folder"])
        if spec["dimension"] is not None and spec["dimension"] != bert.config.hidden_size:
            raise ValueError(
                f"{folder}: the pooling layer expects {spec['dimension']}-dimensional token vectors but the "
                f"model's hidden size is {bert.config.hidden_size}"
            )
        max_len = spec["max_seq_length"]
        limit = bert.config.max_position_embeddings
        if max_len is None or max_len > limit:  # e.g. tokenizer_config's "no limit" sentinel, 1e30
            max_len = limit
        st_config = folder / "config_sentence_transformers.json"
        saved = read_json(st_config) if st_config.is_file() else {}
        saved_prompts = saved.get("prompts") or {}
        try:
            check_prompts(saved_prompts, saved.get("default_prompt_name"))
            check_truncate_dim(saved.get("truncate_dim"), bert.config.hidden_size)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{st_config}: {e}") from None
        model = cls(bert, tokenizer, pooling=mode, normalize=spec["normalize"], max_seq_length=max_len,
                    prompts={**saved_prompts, **(prompts or {})},
                    default_prompt_name=saved.get("default_prompt_name") if default_prompt_name is None else default_prompt_name,
                    truncate_dim=saved.get("truncate_dim") if truncate_dim is None else truncate_dim).eval()
        name = saved.get("similarity_fn_name") or "cosine"
        check_choice(name, f"{st_config}: similarity_fn_name", tuple(SIMILARITY_FUNCTIONS))
        model.similarity_fn_name = name
        return model if device is None else model.move_to(device)

    def save(self, folder: str | Path) -> None:
        """Write a sentence-transformers 6.x folder; ``SentenceTransformer(folder)`` gives the same vectors.

        Laid out as sentence-transformers 6.2 lays out its folders (except that the tokenizer is written
        as vocab.txt + tokenizer_config.json, which transformers, sentence-transformers and minisbert all
        read, where 6.2 writes tokenizer.json)::

            config.json, model.safetensors      BERT (keys without prefix), loadable by transformers too
            vocab.txt, tokenizer_config.json, ...  the tokenizer (BertTokenizer.save)
            modules.json, 1_Pooling/, ...       Transformer → Pooling [→ Normalize], see
                                                minisbert.io.files.write_st_bi_encoder_files

        Everything is written into a hidden temporary folder beside ``folder`` and moved into place at
        the end (``minisbert.io.files.write_folder``), so a crash never leaves a half-written folder that
        looks complete. An existing model folder is swapped for the new one in one atomic step where the
        OS can (Linux renameat2), else with two renames; a folder that does not look like a model folder
        is never replaced (``OverwriteRefusedError``).
        """
        write_folder(folder, self.write_files)

    def write_files(self, path: Path) -> None:
        """The files of ``save`` written into the existing folder ``path`` (no staging: ``save`` does that)."""
        path = Path(path)
        self.bert.config.to_json(path / "config.json")
        save_tensors(self.bert.state_dict(), path / "model.safetensors")
        self.tokenizer.save(path, model_max_length=self.max_seq_length)
        write_st_bi_encoder_files(path, dim=self.dim, pooling=self.pooling.mode, normalize=self.normalize,
                                  max_seq_length=self.max_seq_length)
        st_config = read_json(path / "config_sentence_transformers.json")
        write_json(path / "config_sentence_transformers.json", {
            **st_config, "similarity_fn_name": self.similarity_fn_name, "prompts": self.prompts,
            "default_prompt_name": self.default_prompt_name, "truncate_dim": self.truncate_dim})


# ----------------------------------------------------------------------------------------------------
# Checks of encode's arguments (below the class, which is the chapter)
#
# One name, two meanings: ``precision``
#
# sentence-transformers' ``encode(precision=...)`` is the number format of the *output* vectors, quantised
# after the model ("float32", "int8", "uint8", "binary", "ubinary"). minisbert's first meaning was the
# arithmetic of the forward pass ("fp32", "bf16", "auto"). Code written for sentence-transformers gets its
# meaning; the arithmetic moved to ``compute=``. The old values, which no output precision spells the
# same way, keep working through ``precision=`` with a DeprecationWarning.

COMPUTE_PRECISIONS = ("fp32", "bf16", "auto")
_OLD_PRECISIONS = {"fp32": "fp32", "bf16": "bf16", "auto": "auto", "bfloat16": "bf16"}


def split_precision(precision, compute, where: str = "encode") -> tuple[str, str]:
    """(output precision, compute precision) from ``precision=`` and ``compute=``.

    ``precision``: None or one of ``PRECISIONS`` (None: "float32", as sentence-transformers reads it), or an
    old compute value (deprecated). ``compute``: "fp32", "bf16", "auto" or None ("fp32").
    """
    if compute is not None and compute not in (*COMPUTE_PRECISIONS, "float32", "bfloat16"):
        raise ValueError(f"compute must be 'fp32', 'bf16' or 'auto', got {compute!r}")
    if precision is None:
        precision = "float32"
    if isinstance(precision, str) and precision in _OLD_PRECISIONS:
        old = _OLD_PRECISIONS[precision]
        if compute is not None and compute != old:
            raise ValueError(f"precision={precision!r} (the old spelling of compute=) and compute={compute!r} disagree")
        warnings.warn(f"{where}(precision={precision!r}) is deprecated: precision= now takes sentence-transformers' "
                      f"output precisions {list(PRECISIONS)}; use compute={old!r} for the arithmetic of the forward pass",
                      DeprecationWarning, stacklevel=3)
        return "float32", old
    if precision not in PRECISIONS:
        raise ValueError(f"Precision {precision!r} is not supported, must be one of {list(PRECISIONS)} "
                         f"(the arithmetic of the forward pass is compute='fp32', 'bf16' or 'auto')")
    return precision, compute or "fp32"


def check_truncate_dim(truncate_dim, dim: int) -> int | None:
    """``truncate_dim`` if it is None or an int in [1, dim], else a ValueError naming it."""
    if truncate_dim is not None:
        check_int_range(truncate_dim, "truncate_dim", 1, dim, f" (the model's vectors have {dim} numbers)")
    return truncate_dim


def check_prompts(prompts, default_prompt_name) -> None:
    """``prompts`` a dict of str -> str (or None), and ``default_prompt_name`` None or one of its keys."""
    if prompts is not None and (not isinstance(prompts, dict)
                                or not all(isinstance(k, str) and isinstance(v, str) for k, v in prompts.items())):
        raise TypeError(f"prompts must be a dict of prompt names to prompt texts (str: str), got {prompts!r}")
    names = {"query", "document", *(prompts or {})}
    if default_prompt_name is not None and default_prompt_name not in names:
        raise ValueError(f"default_prompt_name {default_prompt_name!r} is not one of the prompts {sorted(names)}")


def check_finite(model: nn.Module, outputs, texts: list[str], where: str) -> None:
    """A ValueError naming the cause when ``outputs`` (a tensor, or a list of them) hold NaN or Inf.

    A NaN never comes from the maths on finite weights and a finite config, so the weights and the
    config are examined first; what is named is the first parameter that is not finite, else the config
    value, else the input whose output went wrong.
    """
    if torch.is_tensor(outputs) and bool(torch.isfinite(outputs).all()):
        return  # the usual case, one check over the whole (N, H)
    bad = [i for i, row in enumerate(outputs) if not bool(torch.isfinite(row).all())]  # rows (H,) or (T, H)
    if not bad:
        return
    first = f"{len(bad)} of {len(texts)} outputs hold NaN or Inf (the first: input {bad[0]}, {texts[bad[0]][:60]!r})"
    for name, p in model.named_parameters():
        if not bool(torch.isfinite(p).all()):
            raise ValueError(f"{where}: {first}, because the model's weight {name} holds "
                             f"{int((~torch.isfinite(p)).sum())} NaN/Inf values: the weights file is damaged")
    config = getattr(getattr(model, "bert", None), "config", None)
    for key, value in (vars(config).items() if config is not None else ()):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{where}: {first}, because the model's config has {key} = {value}")
    raise ValueError(f"{where}: {first}; the weights and config are finite, so the forward pass overflowed "
                     "(try compute='fp32')")
