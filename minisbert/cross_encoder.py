"""The cross-encoder: BERT reads both sentences at once, the contrast to SBERT's bi-encoder.

Devlin et al. 2019 ("BERT: Pre-training of Deep Bidirectional Transformers for Language
Understanding", https://arxiv.org/abs/1810.04805, section 4.1 and figure 4a) score a sentence pair by
packing both sentences into one input,

    [CLS] a_1 ... a_n [SEP] b_1 ... b_m [SEP]       token types 0 ... 0 0 1 ... 1 1

and putting a linear layer on the pooled [CLS] vector. Every token of a attends to every token of b
in every layer, which is why a cross-encoder scores pairs better than cosine similarity of two
separately computed vectors: it sees the words of both sentences side by side.

The price is the argument of Reimers & Gurevych 2019 ("Sentence-BERT: Sentence Embeddings using
Siamese BERT-Networks", https://arxiv.org/abs/1908.10084, section 1): nothing can be computed per
sentence and reused. Finding the most similar pair among n sentences needs a forward pass for each of
the n(n-1)/2 pairs, 49,995,000 for n = 10,000, "about 65 hours" on a V100; SBERT encodes each
sentence once and compares the vectors with a matrix product, "about 5 seconds".
``benchmarks/cost.py`` measures both on this machine.

The head is Hugging Face's ``BertForSequenceClassification``, so that the two can be checked against
each other (``tests/test_cross_encoder.py``) and a saved folder loads in transformers and in
sentence-transformers' ``CrossEncoder``::

    logits = classifier(dropout(pooler_output))        (B, H) -> (B, num_labels)
    pooler_output = tanh(dense(h_[CLS]))               BERT's own pooler, see minisbert/bert.py

One output (``num_labels=1``) is a similarity score; ``predict`` passes it through a sigmoid, so
scores lie in [0, 1]. k outputs are the logits of k labels (e.g. SICK's entailment labels).

Training (``CrossEncoderObjective`` with ``minisbert.training.train``): for one output the loss is binary
cross-entropy on the logit against the gold score scaled to [0, 1] (STSb: score / 5), what
sentence-transformers' ``BinaryCrossEntropyLoss`` and its STSb cross-encoder example use. Why BCE and
not squared error after the sigmoid: the gradient of BCE-with-logits with respect to the logit is
simply ``sigmoid(z) - y``, while squared error on ``sigmoid(z)`` multiplies that by
``sigmoid(z)(1 - sigmoid(z))``, which vanishes when the model is confidently wrong; soft targets
(y = 0.64) are fine for BCE, its minimum is at sigmoid(z) = y. For k labels: cross-entropy.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .speed.batching import run_batched
from .bert import BertModel
from .checks import (check_choice, check_int_range, check_optional_bool, check_pairs, check_positive_int,
                     check_texts, is_number)
from .config import BertConfig
from .examples import PairExample, check_examples_list
from .io.files import read_json, write_folder, write_json, write_st_cross_encoder_files
from .speed.hardware import resolve_precision
from .tokenizer import has_tokenizer, load_tokenizer
from .io.weights import WeightsError, load_state_strict, read_safetensors, resolve_model_dir, save_tensors
from .sbert import check_finite, split_precision

WEIGHTS = "model.safetensors"
HEAD_PREFIX = "classifier."


class CrossEncoder(nn.Module):
    """BERT on ``[CLS] a [SEP] b [SEP]`` plus a linear head on the pooled [CLS]: pair in, score(s) out.

    >>> ce = CrossEncoder.from_pretrained("weights/cross-encoder-stsb")   # a trained folder
    >>> ce.predict([("A man plays a guitar.", "Someone plays an instrument.")])  # array([0.7...])

    Args:
        bert: the encoder (the same hand-written ``BertModel`` the bi-encoder uses).
        tokenizer: a ``minisbert.tokenizer.BertTokenizer`` for the encoder's vocabulary (``None`` is
            allowed for a model that is only called on token ids; ``predict`` then refuses).
        labels: the names of the outputs, one per logit. ``None``: one output, a score.
        max_seq_length: a pair longer than this is cut, the longer sentence first ("longest first");
            default: the tokenizer's ``model_max_length``, at most the model's positions.
        classifier_dropout: dropout on the pooled vector in training; ``None``: the encoder's
            ``hidden_dropout_prob``, as ``BertForSequenceClassification``.
        activation_fn: what ``predict`` applies to the logits, stored on the model as in
            sentence-transformers (``self.activation_fn``); None: ``torch.nn.Sigmoid()`` for one output
            (a score in [0, 1]), ``torch.nn.Identity()`` for k (the logits).
    """

    def __init__(self, bert: BertModel, tokenizer=None, labels: Sequence[str] | None = None,
                 max_seq_length: int | None = None, classifier_dropout: float | None = None,
                 activation_fn=None):
        super().__init__()
        if not isinstance(bert, BertModel):
            raise TypeError(f"bert must be a minisbert BertModel, got {type(bert).__name__}")
        labels = ["LABEL_0"] if labels is None else [str(x) for x in labels]
        if not labels or len(set(labels)) != len(labels):
            raise ValueError(f"labels must be a non-empty list of distinct names, got {labels!r}")
        limit = bert.config.max_position_embeddings
        if max_seq_length is None:
            max_seq_length = min(getattr(tokenizer, "model_max_length", limit) or limit, limit)
        check_int_range(max_seq_length, "max_seq_length", 3, limit, f" (3: [CLS] and two [SEP]; {limit}: the model's positions)")
        H = bert.config.hidden_size
        self.bert = bert
        self.tokenizer = tokenizer
        self.labels = labels
        self.max_seq_length = max_seq_length
        self.classifier_dropout = classifier_dropout
        self.dropout = nn.Dropout(bert.config.hidden_dropout_prob if classifier_dropout is None else classifier_dropout)
        self.classifier = nn.Linear(H, len(labels))  # (H,) -> (num_labels,)
        if activation_fn is None:
            activation_fn = nn.Sigmoid() if len(labels) == 1 else nn.Identity()
        self.activation_fn = activation_fn  # a plain attribute (see __setattr__), not a submodule of the weights
        # predict() scores each distinct pair once (the same token ids and types give the same score)
        # and copies the score to its repeats. False: every pair goes through BERT.
        self.deduplicate = True
        # BERT's initialisation for a new head (transformers does the same): small normal weights, zero bias.
        nn.init.normal_(self.classifier.weight, mean=0.0, std=bert.config.initializer_range)
        nn.init.zeros_(self.classifier.bias)

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    @property
    def device(self) -> torch.device:
        return self.classifier.weight.device

    @property
    def max_length(self) -> int:
        """``max_seq_length`` under the name sentence-transformers' CrossEncoder used before 4.0 (it now
        warns and points to ``max_seq_length``, as this does). Setting it also sets the tokenizer's limit."""
        warnings.warn("CrossEncoder.max_length is deprecated: use max_seq_length", DeprecationWarning, stacklevel=2)
        return self.max_seq_length

    @max_length.setter
    def max_length(self, value: int) -> None:
        warnings.warn("CrossEncoder.max_length is deprecated: use max_seq_length", DeprecationWarning, stacklevel=2)
        limit = self.bert.config.max_position_embeddings
        check_int_range(value, "max_length", 3, limit, f" (3: [CLS] and two [SEP]; {limit}: the model's positions)")
        self.max_seq_length = value
        if self.tokenizer is not None:
            self.tokenizer.model_max_length = value

    def __setattr__(self, name, value):
        if name == "activation_fn":  # stored as it is (a module given here is not made a submodule, as in ST)
            if value is not None and not callable(value):
                raise TypeError(f"activation_fn must be a function of the logits, got {type(value).__name__}")
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)

    def extra_repr(self) -> str:
        return f"labels={self.labels}, max_seq_length={self.max_seq_length}"

    # ------------------------------------------------------------------------------------------------
    # The model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, num_labels) for a batch of packed pairs (B, T); no activation applied."""
        pooled = self.bert(input_ids, attention_mask, token_type_ids).pooler_output  # (B, H): tanh(dense(h_CLS))
        return self.classifier(self.dropout(pooled))  # (B, num_labels)

    def tokenize(self, pairs) -> dict[str, torch.Tensor]:
        """One padded batch of pairs, ``[CLS] a [SEP] b [SEP]`` with token types 0/1, on the model's device."""
        pairs = check_pairs(pairs)
        tok = self._require_tokenizer()
        batch = tok([a for a, _ in pairs], text_pair=[b for _, b in pairs], padding=True, truncation=True,
                    max_length=self.max_seq_length, return_tensors="pt", padding_side="right")  # positions from the left
        return {k: v.to(self.device) for k, v in batch.items()}

    def _require_tokenizer(self):
        if self.tokenizer is None:
            raise ValueError("this CrossEncoder has no tokenizer: load it from a folder with vocab.txt")
        return self.tokenizer

    # ------------------------------------------------------------------------------------------------
    # Inference

    def predict(self, pairs, batch_size: int = 32, activation: bool = True, convert_to: str = "numpy",
                progress: bool | None = None, precision: str | None = None, *, compute: str | None = None,
                show_progress_bar: bool | None = None,
                activation_fn=None, apply_softmax: bool = False, convert_to_numpy: bool = True,
                convert_to_tensor: bool = False, device=None, workers: int | None = None):
        """Scores for a list of ``(a, b)`` pairs: shape (N,) for one output, (N, num_labels) for k.
        One pair ``(a, b)`` on its own gives one score (a scalar, or a (k,) row), as in sentence-transformers.

        ``activation``: apply ``self.activation_fn`` (by default a sigmoid on a single output, a score in
        [0, 1], and the identity on k outputs, as sentence-transformers' ``CrossEncoder.predict``); False:
        the raw logits. Every pair is one
        forward pass of the whole encoder: that is the cross-encoder's cost.

        Batched the way ``SentenceBert.encode`` is (``minisbert/speed/batching.py``; none of it changes a score
        beyond float rounding): pairs are batched in order of token count so each batch is padded only
        to its own longest pair, a pair that repeats (the same tokens) is scored once, no autograd graph
        is recorded, attention uses the fused kernel, and on the CPU batches run side by side, one per
        torch thread, each on one thread (``workers``: how many; None: ``torch.get_num_threads()`` on the
        CPU, 1 on a GPU).

        ``compute``: ``"fp32"`` (the default, exact), ``"bf16"`` (the forward under ``torch.autocast``
        in bfloat16: matrix products in bf16, LayerNorm and softmax in fp32, fp32 scores out; fast on
        CPUs with bf16 instructions) or ``"auto"`` (bf16 where the hardware has it, see
        ``minisbert.speed.hardware``). ``precision=`` with these values is the old spelling (deprecated,
        as in ``SentenceBert.encode``, where precision= now means the output's quantisation); scores
        are always float32, also from a bf16 model, as in sentence-transformers. A score that is NaN or
        Inf is never returned: a ValueError names the cause.

        sentence-transformers' names, with its meanings (``CrossEncoder.predict``):
            show_progress_bar: the same as ``progress`` (and wins over it when given).
            activation_fn: a function applied to the logits (B, k) instead of ``self.activation_fn``.
            apply_softmax: with k outputs, a softmax over them (after ``activation_fn``).
            convert_to_numpy: False gives a list of N tensors (0-d for one output, (k,) for k).
            convert_to_tensor: one tensor on the model's device; wins over ``convert_to_numpy``.
            device: run on this device; the model moves there and stays.
        """
        single = (isinstance(pairs, (list, tuple)) and len(pairs) == 2
                  and all(isinstance(x, str) for x in pairs))  # one pair, not a list of pairs
        pairs = check_pairs([pairs] if single else pairs)
        check_positive_int(batch_size, "batch_size")
        check_positive_int(workers, "workers", allow_none=True)
        check_choice(convert_to, "convert_to", ("numpy", "torch"))
        for name, flag in (("apply_softmax", apply_softmax), ("convert_to_numpy", convert_to_numpy),
                           ("convert_to_tensor", convert_to_tensor), ("show_progress_bar", show_progress_bar)):
            check_optional_bool(flag, name)
        if activation_fn is not None and not callable(activation_fn):
            raise TypeError(f"activation_fn must be a function of the logits, got {type(activation_fn).__name__}")
        progress = progress if show_progress_bar is None else show_progress_bar
        output = "torch" if convert_to_tensor else "list" if not convert_to_numpy else convert_to
        if device is not None:
            self.to(device)
        tok = self._require_tokenizer()
        # Scores are float32; precision= is only the old spelling of compute= here (with a DeprecationWarning).
        if precision not in (None, "float32", "fp32", "bf16", "auto", "bfloat16"):
            raise ValueError(f"precision must be 'fp32', 'bf16' or 'auto' (deprecated: use compute=), got {precision!r}")
        _, compute = split_precision(precision, compute, "predict")
        bf16 = resolve_precision(compute, self.device) == "bf16"

        def forward(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            # autocast opened per batch: its cache of bf16 weight copies lives only as long as the context
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
                return self(**batch).float()  # (B, k)

        # Every pair's ids and token types, unpadded (longest-first truncation at max_seq_length).
        encoded = tok([a for a, _ in pairs], text_pair=[b for _, b in pairs], padding=False, truncation=True,
                      max_length=self.max_seq_length, return_tensors=None)
        logits = run_batched(self, forward, encoded, width=self.num_labels,
                             batch_size=batch_size, pad_id=tok.pad_token_id, deduplicate=self.deduplicate,
                             progress=progress, desc="cross-encoder", unit="pair", workers=workers)  # (N, k)
        check_finite(self, logits, [f"{a} / {b}" for a, b in pairs], "predict")
        out = logits
        fn = activation_fn if activation_fn is not None else self.activation_fn if activation else None
        if fn is not None:
            out = fn(out)  # (N, k)
        if self.num_labels == 1:
            out = out[:, 0]  # (N,)
        elif apply_softmax:
            out = torch.softmax(out, dim=1)  # (N, k)
        out = out.cpu().numpy() if output == "numpy" else list(out) if output == "list" else out
        return out[0] if single else out  # one pair: a numpy float32 scalar, as sentence-transformers gives

    def rank(self, query: str, documents, top_k: int | None = None, return_documents: bool = False,
             batch_size: int = 32, show_progress_bar: bool | None = None, activation_fn=None, device=None) -> list[dict]:
        """The documents ordered by their score against ``query``, best first, as sentence-transformers'
        ``CrossEncoder.rank``: ``[{"corpus_id": i, "score": s, "text": documents[i]}, ...]`` (``text`` only
        with ``return_documents``), the first ``top_k`` (all when None). Needs a one-output model (a score)."""
        if self.num_labels != 1:
            raise ValueError(f"CrossEncoder.rank() only works for models with num_labels=1 (one output, a score); "
                             f"this one has {self.num_labels}. Consider using CrossEncoder.predict() with input "
                             "pairs instead.")
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        check_positive_int(top_k, "top_k", allow_none=True)
        documents = check_texts(documents, "documents")
        scores = self.predict([(query, d) for d in documents], batch_size=batch_size, activation_fn=activation_fn,
                              show_progress_bar=show_progress_bar, convert_to_tensor=True, device=device).tolist()
        results = [{"corpus_id": i, "score": score} for i, score in enumerate(scores)]
        if return_documents:
            for r in results:
                r["text"] = documents[r["corpus_id"]]
        return sorted(results, key=lambda r: r["score"], reverse=True)[:top_k]  # stable: ties keep input order

    # ------------------------------------------------------------------------------------------------
    # Folders: the layout of transformers' BertForSequenceClassification plus sentence-transformers'
    # CrossEncoder files, so the same folder loads in all three.

    @classmethod
    def from_pretrained(cls, folder_or_name: str | Path, labels: Sequence[str] | None = None,
                        num_labels: int | None = None) -> "CrossEncoder":
        """Load a cross-encoder folder, or start one from a plain BERT folder with a new head; eval mode.

        * A folder whose ``model.safetensors`` holds ``classifier.*`` (saved by ``save``, by
          transformers' ``BertForSequenceClassification`` or by sentence-transformers' ``CrossEncoder``)
          loads encoder and head; ``labels`` / ``num_labels``, if given, must agree with it.
        * A plain BERT or sentence-transformers folder (all-MiniLM-L6-v2) loads the encoder and gets a
          freshly initialised head: ``labels`` names its outputs, or ``num_labels`` counts them
          (default 1, a score, as sentence-transformers does).
        """
        if labels is not None and num_labels is not None and len(labels) != num_labels:
            raise ValueError(f"labels has {len(labels)} names but num_labels is {num_labels}")
        check_positive_int(num_labels, "num_labels", allow_none=True)
        folder = resolve_model_dir(folder_or_name)
        bert = BertModel(BertConfig.from_json(folder / "config.json"))
        config = read_json(folder / "config.json")  # id2label, classifier_dropout
        tensors = read_safetensors(folder / WEIGHTS)
        load_state_strict(bert, tensors, source=str(folder / WEIGHTS))  # canonical_key drops classifier.*
        head = {k[len(HEAD_PREFIX):]: v for k, v in tensors.items() if k.startswith(HEAD_PREFIX)}
        tokenizer = load_tokenizer(folder) if has_tokenizer(folder) else None

        if head:
            saved = config.get("id2label") or {}
            saved_labels = [saved[k] for k in sorted(saved, key=int)] if saved else None
            if set(head) != {"weight", "bias"}:
                raise WeightsError(f"{folder / WEIGHTS}: the head should be classifier.weight and classifier.bias, "
                                   f"found {', '.join(HEAD_PREFIX + k for k in sorted(head))}")
            rows = head["weight"].shape[0]
            if saved_labels is None or len(saved_labels) != rows:  # id2label missing or not matching: generic names
                saved_labels = [f"LABEL_{i}" for i in range(rows)]
            if labels is None:
                labels = saved_labels
            elif len(labels) != len(saved_labels):
                raise ValueError(f"{folder} holds a head with {len(saved_labels)} outputs, not {len(labels)}")
            if num_labels is not None and num_labels != len(labels):
                raise ValueError(f"{folder} holds a head with {len(labels)} outputs, not num_labels={num_labels}")
        elif labels is None:
            labels = [f"LABEL_{i}" for i in range(num_labels or 1)]

        st_config = folder / "config_sentence_transformers.json"
        fn_path = read_json(st_config).get("activation_fn") if st_config.is_file() else None
        activation_fn = _activation_from_path(fn_path, st_config) if fn_path else None
        model = cls(bert, tokenizer, labels=labels, classifier_dropout=config.get("classifier_dropout"),
                    activation_fn=activation_fn)
        if head:
            load_state_strict(model.classifier, head, source=f"{folder / WEIGHTS} (classifier.*)", key_map=lambda k: k)
        return model.eval()

    def save(self, folder: str | Path) -> None:
        """Write the model folder atomically, replacing an existing model folder in one step
        (``minisbert.io.files.write_folder``, as ``SentenceBert.save``).

        Files::

            config.json                BERT's config + "architectures": ["BertForSequenceClassification"], id2label
            model.safetensors          bert.* and classifier.* (the names transformers uses)
            vocab.txt, tokenizer_config.json, special_tokens_map.json
            modules.json, sentence_bert_config.json, config_sentence_transformers.json
                                       what sentence-transformers 6.x needs to load it as a CrossEncoder
        """
        write_folder(folder, self.write_files)

    def write_files(self, path: Path) -> None:
        """The files of ``save`` written into the existing folder ``path`` (no staging: ``save`` does that)."""
        path = Path(path)
        write_json(path / "config.json", {
            **self.bert.config.to_dict(),
            "architectures": ["BertForSequenceClassification"],
            "classifier_dropout": self.classifier_dropout,
            "id2label": {str(i): name for i, name in enumerate(self.labels)},
            "label2id": {name: i for i, name in enumerate(self.labels)},
        })
        save_tensors(self.state_dict(), path / WEIGHTS)  # keys bert.* and classifier.*: BertForSequenceClassification's
        if self.tokenizer is not None:
            self.tokenizer.save(path, model_max_length=self.max_seq_length)
        write_st_cross_encoder_files(path, num_labels=self.num_labels)
        fn = type(self.activation_fn)
        if isinstance(self.activation_fn, nn.Module) and fn.__module__.startswith("torch.nn."):  # else: the default's
            st_config = read_json(path / "config_sentence_transformers.json")
            write_json(path / "config_sentence_transformers.json",
                       {**st_config, "activation_fn": f"{fn.__module__}.{fn.__qualname__}"})


def _activation_from_path(dotted: str, source) -> nn.Module:
    """``"torch.nn.modules.activation.Sigmoid"`` -> ``Sigmoid()``: the stored ``activation_fn`` of a
    sentence-transformers folder. Only torch's own modules are looked up (sentence-transformers also
    loads other code when told to trust it; minisbert never runs code named by a file)."""
    module_name, _, name = str(dotted).rpartition(".")
    if not module_name.startswith("torch.nn"):
        raise ValueError(f"{source}: activation_fn {dotted!r} is not one of torch.nn's modules; minisbert "
                         "loads no other code named by a file")
    import importlib

    try:
        cls = getattr(importlib.import_module(module_name), name, None)
    except ImportError:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"{source}: activation_fn {dotted!r} names no torch.nn module")
    return cls()


def has_head(folder_or_name: str | Path) -> bool:
    """Whether a model folder holds a classification head (``classifier.*``), i.e. a trained cross-encoder."""
    from safetensors import safe_open

    with safe_open(str(resolve_model_dir(folder_or_name) / WEIGHTS), "pt") as f:
        return any(k.startswith(HEAD_PREFIX) for k in f.keys())


# ----------------------------------------------------------------------------------------------------
# Training objective, for minisbert.training.train (the same loop, optimiser and schedule as the bi-encoder)


class CrossEncoderObjective(nn.Module):
    """The loss of a batch of ``PairExample``: BCE-with-logits for a score, cross-entropy for labels.

    One output: ``loss = mean BCE(sigmoid(z), y)`` with y the gold score in [0, 1] (STSb: score / 5,
    ``minisbert.examples.stsb_regression``), computed on the logit z for numerical stability. Equal to
    sentence-transformers' ``BinaryCrossEntropyLoss`` (``BCEWithLogitsLoss``). k outputs: the label
    name must be one of ``model.labels``; ``loss = cross_entropy(z, label id)``.

    ``train(CrossEncoderObjective(ce), examples, TrainConfig(...))`` runs it with the same AdamW,
    warm-up, clipping, seeding and checkpoints as the bi-encoder objectives.
    """

    def __init__(self, model: CrossEncoder):
        super().__init__()
        if not isinstance(model, CrossEncoder):
            raise TypeError(f"model must be a CrossEncoder, got {type(model).__name__}")
        self.model = model

    @property
    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.model.classifier.parameters())

    def check_examples(self, examples, name: str = "examples") -> None:
        check_examples_list(examples, PairExample, name)
        labels = set(self.model.labels)
        for i, ex in enumerate(examples):
            y = ex.label
            if self.model.num_labels == 1:
                if not is_number(y) or not math.isfinite(y) or not 0.0 <= y <= 1.0:
                    raise ValueError(f"{name}[{i}].label = {y!r} must be a score in [0, 1] "
                                     f"(scale gold scores first: STSb score / 5)")
            elif y not in labels:
                raise ValueError(f"{name}[{i}].label = {y!r} is not one of the model's labels {self.model.labels}")

    def forward(self, examples: Sequence[PairExample]) -> torch.Tensor:
        z = self.model(**self.model.tokenize([(e.a, e.b) for e in examples]))  # (B, k)
        return self.loss_from_logits(z, examples)

    def loss_from_logits(self, z: torch.Tensor, examples: Sequence[PairExample]) -> torch.Tensor:
        """The maths alone: logits (B, k) and the examples' labels -> the mean loss."""
        if self.model.num_labels == 1:
            y = torch.tensor([float(e.label) for e in examples], dtype=z.dtype, device=z.device)  # (B,)
            return F.binary_cross_entropy_with_logits(z[:, 0], y)
        index = {name: i for i, name in enumerate(self.model.labels)}
        y = torch.tensor([index[e.label] for e in examples], device=z.device)  # (B,)
        return F.cross_entropy(z, y)
