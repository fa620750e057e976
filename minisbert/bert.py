"""BERT, the encoder, written out top to bottom.

Devlin, Chang, Lee & Toutanova 2019, "BERT: Pre-training of Deep Bidirectional Transformers for Language
Understanding" (https://arxiv.org/abs/1810.04805), on the Transformer encoder of Vaswani et al. 2017,
"Attention Is All You Need" (https://arxiv.org/abs/1706.03762).

    ids (B, T) ─▶ BertEmbeddings ─▶ L × BertLayer ─▶ last_hidden_state (B, T, H)
                                                  └▶ BertPooler(h[:, 0]) ─▶ pooler_output (B, H)

    BertLayer (post-LayerNorm, as the original Transformer):
        a = LayerNorm(x + dropout(dense(SelfAttention(x))))
        y = LayerNorm(a + dropout(dense(gelu(dense(a)))))

Every module and attribute is named after the checkpoint key it holds (``encoder.layer.3.attention.self.
query.weight`` is ``model.encoder.layer[3].attention.self.query.weight``), so loading a checkpoint is a
strict one-to-one copy (see ``minisbert/io/weights.py``). Three numerical details decide whether the result
matches the reference to 1e-6 or only to 1e-3:

* LayerNorm eps is 1e-12 (the TensorFlow value the weights were trained with), not PyTorch's 1e-5;
* GELU is the exact erf form, not the tanh approximation (which is off by ~3e-3 after a few layers);
* padded keys get a large negative score *before* the softmax, so they receive zero weight.

The attention is plain tensor math by default, so every step can be read and printed. Setting
``model.use_sdpa = True`` switches to torch's fused ``scaled_dot_product_attention``, the same function
computed in one kernel (``tests/test_bert.py`` checks the two agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_probability
from .config import BertConfig
from .io.weights import (check_config_matches_header, check_safetensors_header, load_model_weights, resolve_model_dir,
                         save_model_weights, save_tensors)


def gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU(x) = x · Φ(x) = 0.5 · x · (1 + erf(x / √2)), Hendrycks & Gimpel 2016.

    BERT was trained with this exact erf form; the popular tanh approximation differs by up to ~1e-3
    per activation and the error grows layer after layer. ``F.gelu`` computes the same formula in one
    fused kernel.
    """
    return F.gelu(x, approximate="none")


def set_dropout(model: nn.Module, p: float) -> nn.Module:
    """Set every dropout in ``model`` to probability ``p`` (0 turns it off); the config keeps its values.

    Attention reads its module's ``p`` too (SDPA's ``dropout_p``). Off for a short pre-training run, where
    each token is seen only a few times and there is nothing to over-fit (Geiping & Goldstein 2022,
    "Cramming"); off for a run whose every step must be a function of the weights and the batch alone.
    """
    check_probability(p, "dropout")
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = float(p)
    return model


class BertEmbeddings(nn.Module):
    """Token vectors before the first layer: word + position + segment embedding, then LayerNorm.

    BERT's positions are learned (one row per position up to ``max_position_embeddings``), not the
    sinusoids of the original Transformer; the segment ("token type") embedding tells sentence A from B.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        T = input_ids.shape[1]
        position_ids = torch.arange(T, device=input_ids.device)  # (T,), broadcast over the batch
        x = (self.word_embeddings(input_ids)               # (B, T, H)
             + self.position_embeddings(position_ids)      # (T, H)
             + self.token_type_embeddings(token_type_ids))  # (B, T, H)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention (Vaswani et al. 2017, section 3.2).

    Each head h sees d = H / A dimensions: softmax(Q_h K_hᵀ / √d + mask) V_h. Dividing by √d keeps the
    scores' variance near 1 whatever the head size, so the softmax does not saturate.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.head_size
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)
        self.use_sdpa = False  # the fast path: torch's fused scaled_dot_product_attention

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, H = x.shape
        return x.view(B, T, self.num_heads, self.head_size).transpose(1, 2)  # (B, nh, T, hs)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor, output_attentions: bool = False):
        """x: (B, T, H); key_mask: (B, 1, 1, T) bool, True where the key is a real token.

        Returns the attended values (B, T, H) and, with output_attentions, the weights (B, nh, T, T).
        """
        B, T, H = x.shape
        q = self.split_heads(self.query(x))  # (B, nh, T, hs)
        k = self.split_heads(self.key(x))    # (B, nh, T, hs)
        v = self.split_heads(self.value(x))  # (B, nh, T, hs)
        context, probs = self.attend(q, k, v, key_mask, output_attentions)  # (B, nh, T, hs)
        context = context.transpose(1, 2).reshape(B, T, H)  # (B, T, nh·hs): heads side by side again
        return context, probs

    def attend(self, q, k, v, key_mask: torch.Tensor, output_attentions: bool = False):
        """softmax(q kᵀ / √d + mask) v for q, k, v of shape (B, nh, T, hs); also called by
        ``minisbert.speed.packed``. Returns the context (B, nh, T, hs) and, with output_attentions, the weights."""
        if self.use_sdpa and not output_attentions:
            # One fused kernel, the same maths as below (it never materialises the weights, so a call
            # that asks for them takes the plain path).
            p = self.dropout.p if self.training else 0.0
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, dropout_p=p)  # (B, nh, T, hs)
            probs = None
        else:
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_size)  # (B, nh, T, T)
            # Padded keys get the most negative float, so exp() makes their weight exactly 0. A real
            # token is always present ([CLS]), so no row is entirely masked.
            scores = scores.masked_fill(~key_mask, torch.finfo(scores.dtype).min)
            probs = scores.softmax(dim=-1)  # (B, nh, T, T), each row sums to 1 over the keys
            context = self.dropout(probs) @ v  # (B, nh, T, hs)
        return context, probs


class BertSelfOutput(nn.Module):
    """Projection of the heads back to H, dropout, residual, LayerNorm (post-LN)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, context: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(residual + self.dropout(self.dense(context)))


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)  # checkpoint key: attention.self.{query,key,value}
        self.output = BertSelfOutput(config)   # checkpoint key: attention.output.{dense,LayerNorm}

    def forward(self, x, key_mask, output_attentions=False):
        context, probs = self.self(x, key_mask, output_attentions)
        return self.output(context, x), probs


class BertIntermediate(nn.Module):
    """The feed-forward network's first half: H → 4H, then GELU."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gelu(self.dense(x))  # (B, T, I)


class BertOutput(nn.Module):
    """The feed-forward network's second half: 4H → H, dropout, residual, LayerNorm."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, h: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(residual + self.dropout(self.dense(h)))


class BertLayer(nn.Module):
    """One encoder layer: self-attention then feed-forward, each wrapped in residual + LayerNorm."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, x, key_mask, output_attentions=False):
        a, probs = self.attention(x, key_mask, output_attentions)  # (B, T, H)
        return self.output(self.intermediate(a), a), probs        # (B, T, H)


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))


class BertPooler(nn.Module):
    """tanh(dense(h[CLS])): the sentence-level vector BERT's next-sentence task was trained on.

    It is *not* a good sentence embedding without fine-tuning (Reimers & Gurevych 2019, table 1), which
    is the reason SBERT exists; it is here so that checkpoints load whole and match the reference.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(h[:, 0]))  # (B, H) from the first ([CLS]) token


@dataclass
class BertModelOutput:
    last_hidden_state: torch.Tensor  # (B, T, H): one contextual vector per token
    pooler_output: torch.Tensor | None  # (B, H): tanh(dense(last_hidden_state[:, 0])); None without a pooler
    hidden_states: tuple[torch.Tensor, ...] | None = None  # L + 1 tensors (B, T, H): embeddings, then each layer
    attentions: tuple[torch.Tensor, ...] | None = None  # L tensors (B, nh, T, T): softmax weights per layer


class BertModel(nn.Module):
    """The BERT encoder with its pooler; call it like transformers' ``BertModel``.

    >>> model = BertModel.from_pretrained("weights/all-MiniLM-L6-v2")
    >>> out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    >>> out.last_hidden_state.shape  # (B, T, 384)
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        # BertForMaskedLM has no pooler (nothing trains it), so its checkpoints hold no pooler.* keys.
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        # BERT's initialisation (truncated normal in the original, plain normal in transformers): it only
        # matters for weights trained from scratch; pretrained checkpoints overwrite all of them.
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @property
    def use_sdpa(self) -> bool:
        """Whether attention runs through torch's fused ``scaled_dot_product_attention``."""
        return all(layer.attention.self.use_sdpa for layer in self.encoder.layer)

    @use_sdpa.setter
    def use_sdpa(self, value: bool) -> None:
        for layer in self.encoder.layer:
            layer.attention.self.use_sdpa = bool(value)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> BertModelOutput:
        input_ids, attention_mask, token_type_ids = self._check_inputs(input_ids, attention_mask, token_type_ids)
        key_mask = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, T): broadcast over heads and queries

        x = self.embeddings(input_ids, token_type_ids)  # (B, T, H)
        hidden_states, attentions = [x], []
        for layer in self.encoder.layer:
            x, probs = layer(x, key_mask, output_attentions)
            hidden_states.append(x)
            attentions.append(probs)

        return BertModelOutput(
            last_hidden_state=x,
            pooler_output=self.pooler(x) if self.pooler is not None else None,
            hidden_states=tuple(hidden_states) if output_hidden_states else None,
            attentions=tuple(attentions) if output_attentions else None,
        )

    def _check_inputs(self, input_ids, attention_mask, token_type_ids):
        """Defaults as in BERT (mask of ones, segment 0) and clear errors instead of index errors deep in torch."""
        cfg = self.config
        if not isinstance(input_ids, torch.Tensor):
            raise TypeError(f"input_ids must be a torch.Tensor of token ids, got {type(input_ids).__name__}")
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must have shape (batch, seq_len), got {tuple(input_ids.shape)}")
        if input_ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"input_ids must hold integer ids (torch.long), got {input_ids.dtype}")
        B, T = input_ids.shape
        if T == 0 or B == 0:
            raise ValueError(f"input_ids is empty: shape {tuple(input_ids.shape)}")
        if T > cfg.max_position_embeddings:
            raise ValueError(
                f"input_ids has {T} tokens but the model has {cfg.max_position_embeddings} positions; "
                f"truncate the input (the tokenizer does with truncation=True)"
            )
        lo, hi = int(input_ids.min()), int(input_ids.max())
        if lo < 0 or hi >= cfg.vocab_size:
            raise ValueError(f"input_ids must lie in [0, {cfg.vocab_size}), got values from {lo} to {hi}")

        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        elif not isinstance(attention_mask, torch.Tensor):
            raise TypeError(f"attention_mask must be a torch.Tensor, got {type(attention_mask).__name__}")
        elif attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"attention_mask shape {tuple(attention_mask.shape)} differs from input_ids shape {tuple(input_ids.shape)}"
            )
        elif attention_mask.dtype.is_complex:
            raise TypeError(f"attention_mask must be bool, integer or float 0/1, got {attention_mask.dtype}")
        elif attention_mask.dtype != torch.bool and not ((attention_mask == 0) | (attention_mask == 1)).all():
            raise ValueError("attention_mask must hold only 0 (padding) and 1 (real token)")

        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        elif not isinstance(token_type_ids, torch.Tensor):
            raise TypeError(f"token_type_ids must be a torch.Tensor, got {type(token_type_ids).__name__}")
        elif token_type_ids.shape != input_ids.shape:
            raise ValueError(
                f"token_type_ids shape {tuple(token_type_ids.shape)} differs from input_ids shape {tuple(input_ids.shape)}"
            )
        elif token_type_ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"token_type_ids must hold integer ids (torch.long), got {token_type_ids.dtype}")
        elif int(token_type_ids.min()) < 0 or int(token_type_ids.max()) >= cfg.type_vocab_size:
            raise ValueError(f"token_type_ids must lie in [0, {cfg.type_vocab_size})")
        return input_ids, attention_mask, token_type_ids

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "BertModel":
        """Build from a folder holding ``config.json`` and ``model.safetensors``, in eval mode.

        ``folder`` may also be a known model name (``all-MiniLM-L6-v2``) fetched under ``weights/``.
        """

        folder = resolve_model_dir(folder)
        config = BertConfig.from_json(folder / "config.json")
        check_config_matches_header(config, folder / "model.safetensors")  # before allocating the model
        # A BERT pre-trained with masked LM alone (RoBERTa's way, no next-sentence task) has no pooler.
        pooler = any(key.endswith("pooler.dense.weight") for key in check_safetensors_header(folder / "model.safetensors"))
        model = cls(config, add_pooling_layer=pooler)
        load_model_weights(model, folder / "model.safetensors")
        return model.eval()

    def save_pretrained(self, folder: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` (loadable by this class and by transformers)."""

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.to_json(folder / "config.json")
        save_model_weights(self, folder / "model.safetensors")


# ----------------------------------------------------------------------------------------------------
# The pre-training heads (Devlin et al. 2019, section 3.1): masked language model and next sentence.
#
#     BertForPreTraining = bert (BertModel) + cls.predictions (MLM) + cls.seq_relationship (NSP)
#     BertForMaskedLM    = bert (no pooler) + cls.predictions
#
# The names are transformers' checkpoint keys. The MLM decoder has no weight of its own: it is the word
# embedding matrix E (V, H), "tied" (Press & Wolf 2017), so a token's input and output vectors are one and
# the same; only its bias ``cls.predictions.bias`` (V,) is stored. That is why neither class holds a
# ``decoder`` module: ``state_dict()`` then has exactly the keys transformers saves. With
# ``config.tie_word_embeddings=False`` (transformers' option of that name) the decoder is a matrix of its
# own, ``cls.predictions.decoder.weight`` (V, H), and the word embeddings are shaped by the input side alone.


class BertPredictionHeadTransform(nn.Module):
    """dense → GELU → LayerNorm on each token vector, before the vocabulary projection."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(gelu(self.dense(h)))  # (..., H)


class BertLMPredictionHead(nn.Module):
    """Scores over the vocabulary for each token vector: LN(gelu(dense(h))) @ Eᵀ + b (E: the word embeddings,
    or the decoder's own matrix when the config unties them)."""

    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        # A plain attribute, not a submodule: the tied matrix belongs to (and is saved with) the embeddings.
        object.__setattr__(self, "word_embeddings", word_embeddings)
        # Untied: a matrix of its own, checkpoint key cls.predictions.decoder.weight.
        self.decoder = None if config.tie_word_embeddings else nn.Linear(config.hidden_size, config.vocab_size,
                                                                          bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        weight = self.word_embeddings.weight if self.decoder is None else self.decoder.weight  # (V, H)
        return self.transform(h) @ weight.T + self.bias  # (..., H) @ (H, V) -> (..., V)


class BertPreTrainingHeads(nn.Module):
    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding, nsp: bool = True):
        super().__init__()
        self.predictions = BertLMPredictionHead(config, word_embeddings)  # checkpoint key: cls.predictions.*
        if nsp:
            self.seq_relationship = nn.Linear(config.hidden_size, 2)  # cls.seq_relationship: IsNext / NotNext


@dataclass
class BertForPreTrainingOutput:
    loss: torch.Tensor | None  # MLM cross-entropy (+ NSP cross-entropy) when labels are given
    prediction_logits: torch.Tensor  # (B, T, V); (N, V) at the N labelled positions with decode="labelled"
    seq_relationship_logits: torch.Tensor | None  # (B, 2): [IsNext, NotNext] scores from the pooler output
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None

    @property
    def logits(self) -> torch.Tensor:  # BertForMaskedLM's name for the same scores
        return self.prediction_logits


class BertForPreTraining(nn.Module):
    """BERT with both pre-training heads, as transformers' ``BertForPreTraining``.

    The masked-LM loss is cross-entropy over the vocabulary at the positions whose label is not -100
    (transformers' convention: 15% of the tokens, see ``minisbert/masking.py``); the next-sentence loss
    is cross-entropy over [IsNext, NotNext] from the pooler output. The total loss is their sum.

    ``decode="labelled"`` projects onto the vocabulary only at the labelled rows. The loss and every
    gradient are the same (the other 85% of the rows never enter the loss), but the largest matrix
    product of pre-training, (B·T, H) @ (H, V), shrinks to (N, H) @ (H, V). ``prediction_logits`` is then
    (N, V), in row-major order of the labelled positions.
    """

    has_nsp = True

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=self.has_nsp)
        self.cls = BertPreTrainingHeads(config, self.bert.embeddings.word_embeddings, nsp=self.has_nsp)
        self.cls.apply(self.bert._init_weights)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        next_sentence_label: torch.Tensor | None = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
        decode: str = "all",
    ) -> BertForPreTrainingOutput:
        if decode not in ("all", "labelled"):
            raise ValueError(f"decode must be 'all' or 'labelled', got {decode!r}")
        if decode == "labelled" and labels is None:
            raise ValueError("decode='labelled' needs labels: it decodes only where labels != -100")
        out = self.bert(input_ids, attention_mask, token_type_ids, output_hidden_states, output_attentions)
        h = out.last_hidden_state  # (B, T, H)
        if labels is not None:
            labels = _check_labels(labels, input_ids.shape, self.config.vocab_size, "labels")

        loss = None
        if decode == "labelled":
            selected = labels != -100  # (B, T)
            prediction_logits = self.cls.predictions(h[selected])  # (N, H) -> (N, V)
            loss = F.cross_entropy(prediction_logits, labels[selected])
        else:
            prediction_logits = self.cls.predictions(h)  # (B, T, V)
            if labels is not None:
                loss = F.cross_entropy(prediction_logits.flatten(0, 1), labels.flatten(), ignore_index=-100)

        seq_relationship_logits = None
        if self.has_nsp:
            seq_relationship_logits = self.cls.seq_relationship(out.pooler_output)  # (B, 2)
            if next_sentence_label is not None:
                next_sentence_label = _check_labels(next_sentence_label, input_ids.shape[:1], 2, "next_sentence_label")
                nsp_loss = F.cross_entropy(seq_relationship_logits, next_sentence_label)
                loss = nsp_loss if loss is None else loss + nsp_loss
        elif next_sentence_label is not None:
            raise ValueError("next_sentence_label given, but this model has no next-sentence head")

        return BertForPreTrainingOutput(loss, prediction_logits, seq_relationship_logits,
                                        out.hidden_states, out.attentions)

    @classmethod
    def from_pretrained(cls, folder: str | Path):
        """Build from a folder with ``config.json`` and ``model.safetensors`` holding the heads, in eval mode."""

        folder = resolve_model_dir(folder)
        config = BertConfig.from_json(folder / "config.json")
        check_config_matches_header(config, folder / "model.safetensors")  # before allocating the model
        model = cls(config)
        load_model_weights(model, folder / "model.safetensors", key_map=model.checkpoint_key)
        return model.eval()

    def checkpoint_key(self, key: str) -> str | None:
        """This model's parameter name for a checkpoint key, or None for a key it does not hold."""
        if key.endswith("LayerNorm.gamma"):  # TensorFlow-era names
            key = key[: -len("gamma")] + "weight"
        elif key.endswith("LayerNorm.beta"):
            key = key[: -len("beta")] + "bias"
        skipped = ("bert.embeddings.position_ids",)  # a legacy buffer, always arange(max_positions)
        if self.config.tie_word_embeddings:
            skipped += ("cls.predictions.decoder.weight",  # the word embeddings, see above
                        "cls.predictions.decoder.bias")  # the same tensor as cls.predictions.bias
        elif key == "cls.predictions.decoder.bias":
            # Untied, transformers adds the decoder's own bias and leaves cls.predictions.bias unused.
            return "cls.predictions.bias"
        elif key == "cls.predictions.bias":
            return None
        if key in skipped or (not self.has_nsp and key.startswith(("bert.pooler.", "cls.seq_relationship."))):
            return None
        return key

    def save_pretrained(self, folder: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors``, loadable by transformers' class of the same name."""

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.to_json(folder / "config.json", architectures=[type(self).__name__])
        tensors = self.state_dict()
        if not self.config.tie_word_embeddings:  # the bias under both of transformers' names (see checkpoint_key)
            tensors["cls.predictions.decoder.bias"] = tensors["cls.predictions.bias"].clone()
        save_tensors(tensors, folder / "model.safetensors")


class BertForMaskedLM(BertForPreTraining):
    """BERT with the masked-LM head only (no pooler, no NSP head), as transformers' ``BertForMaskedLM``.

    RoBERTa (Liu et al. 2019) found that dropping next-sentence prediction does not hurt; this is that model.
    A checkpoint of ``BertForPreTraining`` loads into it too: the pooler and NSP keys are left out.
    """

    has_nsp = False


def _check_labels(labels, shape, num_classes: int, name: str) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    if labels.shape != shape:
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(labels.shape)}")
    if labels.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name} must hold integer class ids, got {labels.dtype}")
    valid = labels[labels != -100]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes}) or be -100 (ignored)")
    return labels.long()
