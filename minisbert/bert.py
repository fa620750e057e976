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
strict one-to-one copy (see ``minisbert/weights.py``). Three numerical details decide whether the result
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

from .config import BertConfig


def gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU(x) = x · Φ(x) = 0.5 · x · (1 + erf(x / √2)), Hendrycks & Gimpel 2016.

    BERT was trained with this exact erf form; the popular tanh approximation differs by up to ~1e-3
    per activation and the error grows layer after layer. ``F.gelu`` computes the same formula in one
    fused kernel.
    """
    return F.gelu(x, approximate="none")


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

        context = context.transpose(1, 2).reshape(B, T, H)  # (B, T, nh·hs): heads side by side again
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
    pooler_output: torch.Tensor  # (B, H): tanh(dense(last_hidden_state[:, 0]))
    hidden_states: tuple[torch.Tensor, ...] | None = None  # L + 1 tensors (B, T, H): embeddings, then each layer
    attentions: tuple[torch.Tensor, ...] | None = None  # L tensors (B, nh, T, T): softmax weights per layer


class BertModel(nn.Module):
    """The BERT encoder with its pooler; call it like transformers' ``BertModel``.

    >>> model = BertModel.from_pretrained("weights/all-MiniLM-L6-v2")
    >>> out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    >>> out.last_hidden_state.shape  # (B, T, 384)
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config)
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
            pooler_output=self.pooler(x),
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
        from .weights import load_model_weights, resolve_model_dir

        folder = resolve_model_dir(folder)
        model = cls(BertConfig.from_json(folder / "config.json"))
        load_model_weights(model, folder / "model.safetensors")
        return model.eval()

    def save_pretrained(self, folder: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` (loadable by this class and by transformers)."""
        from .weights import save_model_weights

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.to_json(folder / "config.json")
        save_model_weights(self, folder / "model.safetensors")
