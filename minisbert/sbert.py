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

import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .bert import BertModel
from .pooling import POOLING_MODES, Pooling
from .weights import read_json, resolve_model_dir, save_tensors

# encode() shows a progress bar by itself only when a person is watching (stderr is a terminal) and the
# run is long enough to be worth one: more than this many batches (about 10 s of CPU for MiniLM).
PROGRESS_MIN_BATCHES = 50

# What a model folder's modules.json may list, by the last part of the class path (sentence-transformers
# 2.x-5.x write ``sentence_transformers.models.Pooling``, 6.x ``sentence_transformers.sentence_transformer.
# modules.pooling.Pooling``); the names 6.2 writes are the ones save() uses.
ST_TRANSFORMER = "sentence_transformers.base.modules.transformer.Transformer"
ST_POOLING = "sentence_transformers.sentence_transformer.modules.pooling.Pooling"
ST_NORMALIZE = "sentence_transformers.base.modules.normalize.Normalize"

# sentence-transformers' legacy 1_Pooling/config.json: one boolean per mode.
LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
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
        if not isinstance(max_seq_length, int) or isinstance(max_seq_length, bool) or not 2 <= max_seq_length <= limit:
            raise ValueError(
                f"max_seq_length must be an int from 2 ([CLS] and [SEP]) to {limit} (the model's positions), "
                f"got {max_seq_length!r}"
            )
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
        # encode() runs BERT once per distinct token sequence and copies the vector to every repeat: a
        # sentence's vector does not depend on its batch neighbours, so a repeat would give the same
        # vector again (real data repeats itself: 7.5% of STS Benchmark test's sentences, about half of
        # SICK's). False: every input sentence goes through BERT, as sentence-transformers does.
        self.deduplicate = True

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
        texts = _check_texts(texts)
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_seq_length,
                               return_tensors="pt")
        return {k: v.to(self.device) for k, v in batch.items()}

    def _pooled(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """BERT, then pooling over the real tokens: (B, T) ids → (B, H), before any normalisation."""
        mask = batch["attention_mask"]
        out = self.bert(batch["input_ids"], mask, batch.get("token_type_ids"))
        return self.pooling(out.last_hidden_state, mask)  # (B, H)

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

    def _forward_for_encode(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The one forward call ``encode`` makes per batch: (B, T) ids → (B, H) pooled, not normalised.

        With ``self.fast_inference`` (the default) it runs ``minisbert.fast.FastEncoder``, the same maths
        on packed tokens with prepared weights (``tests/test_fast.py`` checks both give the same vectors
        within 1e-6); otherwise the plain ``BertModel`` forward and the pooling layer.
        """
        if not self.fast_inference:
            return self._pooled(batch)
        if self._fast is None or self._fast.bert is not self.bert:
            from .fast import FastEncoder

            self._fast = FastEncoder(self.bert)
        return self._fast(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"),
                          pooling=self.pooling.mode)

    def encode(self, sentences, batch_size: int = 32, normalize: bool | None = None,
               convert_to: str = "numpy", progress: bool | None = None):
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

        ``batch_size`` is what it says: distinct sentences per forward pass (batches are not regrouped by
        token count).

        Padding cannot change a vector: padded keys get zero attention weight and pooling is masked,
        so a sentence's vector does not depend on its batch neighbours.

        Args:
            sentences: a string or a list of strings.
            batch_size: sentences per forward pass.
            normalize: L2-normalise the vectors; ``None`` follows the model (``self.normalize``).
            convert_to: ``"numpy"`` (a float32 array) or ``"torch"`` (a tensor on the model's device).
            progress: show a tqdm bar; ``None`` shows one on long runs when stderr is a terminal.
        """
        single = isinstance(sentences, str)
        sentences = _check_texts([sentences] if single else sentences, name="sentences")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if convert_to not in ("numpy", "torch"):
            raise ValueError(f"convert_to must be 'numpy' or 'torch', got {convert_to!r}")
        if normalize is not None and not isinstance(normalize, bool):
            raise TypeError(f"normalize must be True, False or None, got {normalize!r}")
        normalize = self.normalize if normalize is None else normalize

        n = len(sentences)
        dtype = self.bert.embeddings.word_embeddings.weight.dtype
        # Allocated outside inference mode, so the result is an ordinary tensor that later autograd code
        # may use (an inference-mode tensor cannot be saved for backward).
        out = torch.empty(n, self.dim, dtype=dtype, device=self.device)
        if n:
            was_training, had_sdpa = self.training, self.bert.use_sdpa
            self.eval()  # dropout off: the same sentence must always give the same vector
            self.bert.use_sdpa = True
            try:
                with torch.inference_mode():
                    self._encode_into(out, sentences, batch_size, normalize, progress)
            finally:
                self.bert.use_sdpa = had_sdpa
                self.train(was_training)

        result = out[0] if single else out
        return result.cpu().numpy() if convert_to == "numpy" else result

    def _encode_into(self, out: torch.Tensor, sentences: list[str], batch_size: int, normalize: bool,
                     progress: bool | None) -> None:
        # 1. Tokenize everything, unpadded: each sentence's real token ids, truncated at max_seq_length.
        ids = self.tokenizer(sentences, padding=False, truncation=True, max_length=self.max_seq_length,
                             return_tensors=None)["input_ids"]
        # Sentences with the same ids (the same string, or strings the tokenizer does not tell apart,
        # as "Dog." and "dog." in an uncased vocabulary) are encoded once: `first[i]` is the row that
        # sentence i copies, `todo` the rows that go through BERT.
        first = list(range(len(ids)))
        if self.deduplicate:
            seen: dict[tuple[int, ...], int] = {}
            first = [seen.setdefault(tuple(x), i) for i, x in enumerate(ids)]
        todo = [i for i, f in enumerate(first) if f == i]
        lengths = {i: len(ids[i]) for i in todo}

        # 2. Longest first; a stable sort keeps equal-length sentences in input order.
        order = sorted(todo, key=lambda i: -lengths[i])
        starts = range(0, len(order), batch_size)
        bar = None
        if progress or (progress is None and len(starts) > PROGRESS_MIN_BATCHES and sys.stderr.isatty()):
            from tqdm.auto import tqdm

            bar = tqdm(total=len(order), desc="encode", unit="sent")

        # 3. One forward pass per batch, padded to the batch's longest sentence (dynamic padding); each
        #    vector is written to its sentence's row, which restores the input order.
        pad_id = self.tokenizer.pad_token_id
        device = self.device
        try:
            for start in starts:
                rows = order[start:start + batch_size]
                batch_lengths = torch.tensor([lengths[i] for i in rows])  # (B,)
                T = int(batch_lengths[0])  # the longest in the batch, which comes first
                input_ids = torch.tensor([ids[i] + [pad_id] * (T - lengths[i]) for i in rows])  # (B, T)
                attention_mask = (torch.arange(T)[None, :] < batch_lengths[:, None]).long()  # (B, T)
                batch = {
                    "input_ids": input_ids.to(device),
                    "attention_mask": attention_mask.to(device),
                    "token_type_ids": torch.zeros_like(input_ids).to(device),  # one segment: all 0
                }
                u = self._forward_for_encode(batch)  # (B, H)
                if normalize:
                    u = F.normalize(u, p=2, dim=-1)
                out[torch.tensor(rows, device=device)] = u.to(out.dtype)
                if bar is not None:
                    bar.update(len(rows))
        finally:
            if bar is not None:
                bar.close()
        repeats = [i for i, f in enumerate(first) if f != i]
        if repeats:
            out[torch.tensor(repeats, device=device)] = out[torch.tensor([first[i] for i in repeats], device=device)]

    # ------------------------------------------------------------------------------------------------
    # Model folders

    @classmethod
    def from_pretrained(cls, folder_or_name: str | Path, pooling: str | None = None) -> "SentenceBert":
        """Load a sentence-transformers folder or a plain BERT folder, in eval mode.

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
        if mode not in POOLING_MODES:
            raise ValueError(f"unknown pooling mode {mode!r}; choose one of {', '.join(POOLING_MODES)}")

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
        return cls(bert, tokenizer, pooling=mode, normalize=spec["normalize"], max_seq_length=max_len).eval()

    def save(self, folder: str | Path) -> None:
        """Write a sentence-transformers 6.x folder; ``SentenceTransformer(folder)`` gives the same vectors.

        Laid out as sentence-transformers 6.2 lays out its folders (except that the tokenizer is written
        as vocab.txt + tokenizer_config.json, which transformers, sentence-transformers and minisbert all
        read, where 6.2 writes tokenizer.json)::

            config.json, model.safetensors      BERT (keys without prefix), loadable by transformers too
            vocab.txt, tokenizer_config.json, ...  the tokenizer
            sentence_bert_config.json           {"max_seq_length": ..., "do_lower_case": false}
            modules.json                        Transformer (path "") → Pooling (1_Pooling) [→ Normalize]
            1_Pooling/config.json               {"embedding_dimension": H, "pooling_mode": "mean", ...}
            2_Normalize/config.json             only when normalize
            config_sentence_transformers.json   model type and similarity function

        Everything is written into a hidden temporary folder beside ``folder`` and renamed into place at
        the end, so a crash never leaves a half-written folder that looks complete. An existing model
        folder is swapped for the new one in one atomic step where the OS can (Linux renameat2), else
        with two renames; a folder that does not look like a model folder is never replaced.
        """
        target = Path(folder)
        if target.exists():
            if not target.is_dir():
                raise FileExistsError(f"{target} exists and is not a folder")
            if any(target.iterdir()) and not ((target / "modules.json").is_file() or (target / "config.json").is_file()):
                raise FileExistsError(f"{target} is a non-empty folder that is not a model folder; not replacing it")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        try:
            self._write_folder(tmp)
            _finish_tree(tmp)
            _replace_dir(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _write_folder(self, path: Path) -> None:
        def write_json(relpath: str, obj) -> None:
            p = path / relpath
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")

        self.bert.config.to_json(path / "config.json")
        save_tensors(self.bert.state_dict(), path / "model.safetensors")
        self._write_tokenizer(path)
        write_json("sentence_bert_config.json", {"max_seq_length": self.max_seq_length, "do_lower_case": False})
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": ST_TRANSFORMER},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": ST_POOLING},
        ]
        write_json("1_Pooling/config.json",
                   {"embedding_dimension": self.dim, "pooling_mode": self.pooling.mode, "include_prompt": True})
        if self.normalize:
            modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": ST_NORMALIZE})
            write_json("2_Normalize/config.json",
                       {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"})
        write_json("modules.json", modules)
        write_json("config_sentence_transformers.json", {
            "model_type": "SentenceTransformer",
            "prompts": {},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        })

    def _write_tokenizer(self, path: Path) -> None:
        """vocab.txt, tokenizer_config.json and special_tokens_map.json, written from the tokenizer itself
        (so the folder holds the tokenizer this model uses); transformers builds its BertTokenizer from them."""
        tok = self.tokenizer
        by_id = sorted(tok.vocab.items(), key=lambda item: item[1])
        if [i for _, i in by_id] != list(range(len(by_id))):
            raise ValueError("cannot write vocab.txt: the tokenizer's ids are not 0, 1, ..., n - 1")
        (path / "vocab.txt").write_text("".join(token + "\n" for token, _ in by_id), encoding="utf-8")
        special = {name: getattr(tok, name) for name in ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
                   if getattr(tok, name, None) is not None}
        config = {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": tok.do_lower_case,
            "strip_accents": tok.strip_accents,
            "tokenize_chinese_chars": tok.tokenize_chinese_chars,
            # sentence-transformers 6.x reads the maximum length back from here as well.
            "model_max_length": self.max_seq_length,
            **special,
        }
        (path / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (path / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------------------------------
# Reading a sentence-transformers folder


def read_st_folder(folder: Path) -> dict:
    """What ``from_pretrained`` needs from a folder: {bert_folder, pooling, dimension, normalize, max_seq_length}.

    Modules other than Transformer → Pooling → Normalize (a Dense projection, say) are refused rather
    than skipped: skipping one would silently give different vectors.
    """
    folder = Path(folder)
    spec = {"bert_folder": folder, "pooling": "mean", "dimension": None, "normalize": False, "max_seq_length": None}
    modules_path = folder / "modules.json"
    if modules_path.is_file():
        modules = _read_json(modules_path)
        if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
            raise ValueError(f"{modules_path}: expected a list of modules")
        kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in sorted(modules, key=lambda m: m.get("idx", 0))]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            raise ValueError(
                f"{modules_path}: modules {kinds} are not supported; minisbert reads Transformer → Pooling "
                f"[→ Normalize]"
            )
        by_kind = dict(zip(kinds, sorted(modules, key=lambda m: m.get("idx", 0))))
        spec["bert_folder"] = folder / by_kind["Transformer"].get("path", "")
        spec["normalize"] = "Normalize" in by_kind
        pooling_config = _read_json(folder / by_kind["Pooling"].get("path", "") / "config.json")
        spec["pooling"], spec["dimension"] = _pooling_from_config(pooling_config, folder)

    # The maximum length: sentence_bert_config.json (what sentence-transformers itself reads first),
    # then the tokenizer's model_max_length (where sentence-transformers 6.x also keeps it).
    sbert_config_path = spec["bert_folder"] / "sentence_bert_config.json"
    sbert_config = _read_json(sbert_config_path) if sbert_config_path.is_file() else {}
    if sbert_config.get("do_lower_case"):
        raise ValueError(f"{sbert_config_path}: do_lower_case=true (lower-casing before the tokenizer) is not supported")
    tok_config_path = spec["bert_folder"] / "tokenizer_config.json"
    tok_config = _read_json(tok_config_path) if tok_config_path.is_file() else {}
    for value in (sbert_config.get("max_seq_length"), tok_config.get("model_max_length")):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 2:
            spec["max_seq_length"] = int(min(value, 1 << 30))
            break
    return spec


def load_tokenizer(folder: Path):
    """The folder's BertTokenizer, from vocab.txt or, failing that, from tokenizer.json.

    sentence-transformers 6.x saves only tokenizer.json (no vocab.txt); its WordPiece vocabulary and its
    BertNormalizer flags are the same information.
    """
    from .tokenizer import BertTokenizer, special_tokens

    folder = Path(folder)
    if (folder / "vocab.txt").is_file() or not (folder / "tokenizer.json").is_file():
        return BertTokenizer.from_pretrained(folder)
    spec = _read_json(folder / "tokenizer.json")
    model, normalizer = spec.get("model") or {}, spec.get("normalizer") or {}
    if model.get("type") != "WordPiece" or normalizer.get("type") != "BertNormalizer":
        raise ValueError(f"{folder / 'tokenizer.json'}: not a BERT WordPiece tokenizer "
                         f"(model {model.get('type')!r}, normalizer {normalizer.get('type')!r})")
    config_path = folder / "tokenizer_config.json"
    config = _read_json(config_path) if config_path.is_file() else {}
    kwargs = {
        "do_lower_case": normalizer.get("lowercase", True),
        "strip_accents": normalizer.get("strip_accents"),
        "tokenize_chinese_chars": normalizer.get("handle_chinese_chars", True),
        "model_max_length": config.get("model_max_length"),
    }
    kwargs.update(special_tokens(config))
    return BertTokenizer(model["vocab"], **kwargs)


def _pooling_from_config(config: dict, folder: Path) -> tuple[str, int | None]:
    """(mode, dimension) from a 1_Pooling/config.json in either of its two forms."""
    dimension = config.get("embedding_dimension", config.get("word_embedding_dimension"))
    if "pooling_mode" in config:  # sentence-transformers ≥ 5: "mean", or a list of modes to concatenate
        modes = config["pooling_mode"]
        modes = [modes] if isinstance(modes, str) else list(modes)
    else:  # legacy: one boolean per mode; none set means mean (as sentence-transformers reads it)
        modes = [mode for key, mode in LEGACY_POOLING_KEYS.items() if config.get(key)] or ["mean"]
    if len(modes) != 1 or modes[0] not in POOLING_MODES:
        raise ValueError(
            f"{folder}: pooling {modes} is not supported; minisbert pools with one of {', '.join(POOLING_MODES)}"
        )
    return modes[0], dimension


def _read_json(path: Path):
    if not path.is_file():
        raise FileNotFoundError(f"model folder file not found: {path}")
    return read_json(path)


def _check_texts(texts, name: str = "texts") -> list[str]:
    """A list of strings, or a TypeError that names the first bad entry's position."""
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a list of strings, got one string (wrap it in a list)")
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"{name} must be a list of strings, got {type(texts).__name__}") from None
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(text).__name__}")
    return texts


# ----------------------------------------------------------------------------------------------------
# Replacing a folder as atomically as the OS allows


def _finish_tree(root: Path) -> None:
    """Give the temporary files ordinary permissions (mkdtemp/mkstemp make them private to the owner) and
    flush every file and folder under ``root`` to disk, so that the rename which publishes it comes last."""
    umask = os.umask(0)
    os.umask(umask)
    for dirpath, _, filenames in os.walk(root):
        os.chmod(dirpath, 0o777 & ~umask)
        for name in filenames:
            path = os.path.join(dirpath, name)
            os.chmod(path, 0o666 & ~umask)
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        fd = os.open(dirpath, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _replace_dir(new: Path, target: Path) -> None:
    """Move folder ``new`` to ``target``, replacing an existing ``target``.

    A missing target is a plain rename (atomic). An existing one is swapped in one step with Linux's
    renameat2(RENAME_EXCHANGE), then the old contents are deleted; where that is not available, the old
    folder is first renamed aside, so a crash between the two renames leaves it intact beside the target.
    """
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new)  # `new` now holds the old folder
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.rmdir(aside)
    os.rename(target, aside)
    os.rename(new, target)
    shutil.rmtree(aside, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where the OS cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # no libc, or glibc < 2.28
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ENOTSUP):  # file system without exchange
        return False
    raise OSError(err, os.strerror(err), str(b))
