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

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .batching import run_batched
from .bert import BertModel
from .checks import check_choice, check_int_range, check_optional_bool, check_pooling_mode, check_positive_int, check_texts
from .files import read_json, read_st_folder, write_folder, write_json, write_st_bi_encoder_files
from .hardware import resolve_precision
from .pooling import Pooling
from .similarity import (cos_sim, dot_score, euclidean_sim, manhattan_sim, pairwise_cos_sim, pairwise_dot_score,
                         pairwise_euclidean_sim, pairwise_manhattan_sim)
from .tokenizer import load_tokenizer
from .weights import resolve_model_dir, save_tensors


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
    """

    def __init__(self, bert: BertModel, tokenizer, pooling: str = "mean", normalize: bool = False,
                 max_seq_length: int = 256):
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
        # encode() runs the fast inference path of minisbert/fast.py (packed tokens, fused Q/K/V,
        # oneDNN-packed weights): the same vectors within 1e-6, ~1.1× the plain forward on a CPU.
        # False: encode() calls the plain BertModel forward (with SDPA attention) instead.
        self.fast_inference = True
        self._fast = None  # the FastEncoder, made on first use
        # While True, the forward (embed, _pooled) runs BERT on packed tokens (minisbert/packed.py): the
        # same maths with no work spent on [PAD], for training. minisbert.train sets it from
        # TrainConfig.packed for the length of a run.
        self.packed_training = False
        # encode() runs BERT once per distinct token sequence and copies the vector to every repeat: a
        # sentence's vector does not depend on its batch neighbours, so a repeat would give the same
        # vector again (real data repeats itself: 7.5% of STS Benchmark test's sentences, about half of
        # SICK's). False: every input sentence goes through BERT, as sentence-transformers does.
        self.deduplicate = True
        # What ``similarity`` compares vectors with: "cosine", "dot", "euclidean" or "manhattan" (negated
        # distances, so higher is more similar), as sentence-transformers' ``similarity_fn_name``.
        self.similarity_fn_name = "cosine"

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
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_seq_length,
                               return_tensors="pt")
        return {k: v.to(self.device) for k, v in batch.items()}

    def _pooled(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """BERT, then pooling over the real tokens: (B, T) ids → (B, H), before any normalisation."""
        mask = batch["attention_mask"]
        if self.packed_training:
            from .packed import packed_last_hidden_state

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

        With ``self.fast_inference`` (the default) it runs ``minisbert.fast.FastEncoder``, the same maths
        on packed tokens with prepared weights (``tests/test_fast.py`` checks both give the same vectors
        within 1e-6); otherwise the plain ``BertModel`` forward and the pooling layer (in bf16 under
        ``torch.autocast``). ``precision``: "fp32" or "bf16" (already resolved from "auto").
        """
        if not self.fast_inference:
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                return self._pooled(batch).float()
        return self._fast_encoder()(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"),
                                    pooling=self.pooling.mode, precision=precision)

    def _fast_encoder(self):
        """The ``FastEncoder`` of this model's BERT, made on first use (and again after a new ``.bert``)."""
        if self._fast is None or self._fast.bert is not self.bert:
            from .fast import FastEncoder

            self._fast = FastEncoder(self.bert)
        return self._fast

    def encode(self, sentences, batch_size: int = 32, normalize: bool | None = None,
               convert_to: str = "numpy", progress: bool | None = None, precision: str = "fp32", *,
               show_progress_bar: bool | None = None, normalize_embeddings: bool = False,
               convert_to_numpy: bool = True, convert_to_tensor: bool = False, device=None,
               workers: int | None = None):
        """Sentence vectors for a list of strings: (N, H), row i for ``sentences[i]``.

        One string gives one vector (H,); an empty list gives an empty (0, H) result.

        What makes it fast, none of which changes a vector beyond float rounding:

        * sentences are sorted by token count (longest first, so running out of memory happens at
          once, not at the end) and batched in that order, so each batch is padded only to its own
          longest sentence (dynamic padding). On STS Benchmark test, T ≈ 10-70: padding every batch to
          256 would cost ~10× more attention and feed-forward work for nothing;
        * no autograd (``torch.inference_mode``): no graph is recorded and no activation is kept;
        * the fast inference path (``self.fast_inference``, on by default; ``minisbert/fast.py``): the
          real tokens packed into one matrix (no work on padding), Q/K/V in one matrix product, weights
          packed once for oneDNN, attention per group of equal-length sentences with no mask. Set
          ``sbert.fast_inference = False`` to run the plain ``BertModel`` forward (attention through
          torch's fused ``scaled_dot_product_attention``) instead: same vectors within 1e-6;
        * each distinct token sequence goes through BERT once (``self.deduplicate``, on by default); its
          repeats get a copy of its vector. 7.5% of the STS Benchmark test sentences are repeats.
        * on the CPU, batches run side by side, one per torch thread, each on one thread (``workers``;
          ``minisbert/batching.py``): +14-25% in bf16 on a 2-core Sapphire Rapids, where oneDNN ran some
          products of a two-thread batch on one core.

        ``batch_size`` is what it says: distinct sentences per forward pass (batches are not regrouped by
        token count).

        Padding cannot change a vector: padded keys get zero attention weight and pooling is masked,
        so a sentence's vector does not depend on its batch neighbours.

        Args:
            sentences: a string or a list of strings.
            batch_size: sentences per forward pass.
            normalize: L2-normalise the vectors; ``None`` follows the model (``self.normalize``).
            convert_to: ``"numpy"`` (a float32 array) or ``"torch"`` (a tensor on the model's device).
            progress: show a tqdm bar; ``None`` shows one on a long run (``minisbert.batching.show_progress``).
            precision: ``"fp32"`` (exact: within 1e-6 of sentence-transformers), ``"bf16"`` (matrix
                products in bfloat16, fp32 vectors out; fast on CPUs with bf16 instructions, ~2e-3 on a
                unit vector, see ``minisbert/fast.py``) or ``"auto"`` (bf16 where the CPU or GPU has
                bf16 instructions, else fp32; ``minisbert.hardware``).
            workers: how many batches run at once, each on one CPU thread; None: one per torch thread
                on the CPU (``torch.get_num_threads()``), 1 on a GPU. 1 runs each batch on all threads.

        sentence-transformers' names, with its meanings (``SentenceTransformer.encode``):
            show_progress_bar: the same as ``progress`` (and wins over it when given).
            normalize_embeddings: True normalises the vectors whatever the model does; False leaves them
                as the model makes them (a model with a Normalize module still normalises).
            convert_to_numpy: True (the default): a float32 array, as ``convert_to="numpy"``; False: a
                list of N one-dimensional tensors on the model's device.
            convert_to_tensor: True: one (N, H) tensor on the model's device; wins over
                ``convert_to_numpy``, as in sentence-transformers.
            device: run on this device; the model moves there and stays (as sentence-transformers does).
        One difference: an empty list gives an empty (0, H) array or tensor, where sentence-transformers
        gives a flat empty one (shape (0,)).
        """
        single = isinstance(sentences, str)
        sentences = check_texts([sentences] if single else sentences, name="sentences")
        check_positive_int(batch_size, "batch_size")
        check_positive_int(workers, "workers", allow_none=True)
        check_choice(convert_to, "convert_to", ("numpy", "torch"))
        check_optional_bool(normalize, "normalize")
        for name, flag in (("normalize_embeddings", normalize_embeddings), ("convert_to_numpy", convert_to_numpy),
                           ("convert_to_tensor", convert_to_tensor)):
            check_optional_bool(flag, name)
        check_optional_bool(show_progress_bar, "show_progress_bar")
        normalize = True if normalize_embeddings else self.normalize if normalize is None else normalize
        progress = progress if show_progress_bar is None else show_progress_bar
        # sentence-transformers' flags decide the output when they are not at their defaults
        output = "torch" if convert_to_tensor else "list" if not convert_to_numpy else convert_to
        if device is not None:
            self.move_to(device)
        precision = resolve_precision(precision, self.device)
        if self.fast_inference:
            self._fast_encoder()  # made here, not by each worker thread

        def forward(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            u = self._forward_for_encode(batch, precision)  # (B, H)
            return F.normalize(u, p=2, dim=-1) if normalize else u

        # Every sentence's real token ids, unpadded and truncated at max_seq_length; minisbert/batching.py
        # sorts, deduplicates, pads and batches them, and puts each vector back in its sentence's row.
        encoded = self.tokenizer(sentences, padding=False, truncation=True, max_length=self.max_seq_length,
                                 return_tensors=None)
        out = run_batched(self, forward, encoded, width=self.dim, batch_size=batch_size,
                          pad_id=self.tokenizer.pad_token_id, deduplicate=self.deduplicate, progress=progress,
                          desc="encode", unit="sent", workers=workers)  # (N, H)
        if output == "list":
            out = list(out)  # N tensors (H,), as sentence-transformers returns without conversion
        result = out[0] if single else out
        return result.cpu().numpy() if output == "numpy" else result

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
    def from_pretrained(cls, folder_or_name: str | Path, pooling: str | None = None, device=None) -> "SentenceBert":
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
        ``pooling=`` overrides the folder's mode.
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
        model = cls(bert, tokenizer, pooling=mode, normalize=spec["normalize"], max_seq_length=max_len).eval()
        st_config = folder / "config_sentence_transformers.json"
        name = (read_json(st_config).get("similarity_fn_name") if st_config.is_file() else None) or "cosine"
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
                                                minisbert.files.write_st_bi_encoder_files

        Everything is written into a hidden temporary folder beside ``folder`` and moved into place at
        the end (``minisbert.files.write_folder``), so a crash never leaves a half-written folder that
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
        write_json(path / "config_sentence_transformers.json", {**st_config, "similarity_fn_name": self.similarity_fn_name})
