"""BERT's hyper-parameters, read from a checkpoint's ``config.json``.

The defaults are BERT-base from Devlin et al. 2019 ("BERT: Pre-training of Deep Bidirectional
Transformers for Language Understanding", section 3 and appendix A.2). A checkpoint's ``config.json``
overrides them; keys this implementation does not use (``architectures``, ``transformers_version``,
...) are ignored, and keys that would change the maths in a way it does not implement are refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import math

from .checks import check_positive_int, is_int, is_number
from .io.files import read_json, write_json


@dataclass
class BertConfig:
    vocab_size: int = 30522  # WordPiece vocabulary of the uncased English models
    hidden_size: int = 768  # H: width of every token vector
    num_hidden_layers: int = 12  # L: encoder layers stacked
    num_attention_heads: int = 12  # A: heads per layer; each head sees H / A dimensions
    intermediate_size: int = 3072  # feed-forward inner width, 4H in the paper
    hidden_act: str = "gelu"  # the exact erf GELU (Hendrycks & Gimpel 2016), as Google's BERT
    hidden_dropout_prob: float = 0.1  # dropout on embeddings and on each sub-layer's output
    attention_probs_dropout_prob: float = 0.1  # dropout on the attention weights
    max_position_embeddings: int = 512  # learned absolute positions: the longest input
    type_vocab_size: int = 2  # segment A / segment B (token_type_ids 0 and 1)
    layer_norm_eps: float = 1e-12  # TF's BERT value; PyTorch's default 1e-5 drifts by ~1e-3
    pad_token_id: int = 0  # id of [PAD]; its embedding row is used like any other
    initializer_range: float = 0.02  # std of the normal init for weights not loaded from a file
    tie_word_embeddings: bool = True  # the MLM decoder is the word-embedding matrix; False: a matrix of its own

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            check_positive_int(getattr(self, name), f"BertConfig.{name}")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"BertConfig.hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.hidden_act not in ("gelu",):
            raise ValueError(f"BertConfig.hidden_act {self.hidden_act!r} is not supported; use 'gelu'")
        # Numbers that are not numbers (NaN, Inf) or out of range give NaN outputs, not an error: refuse them.
        ranges = {"layer_norm_eps": (0, 1, "a number in (0, 1)"),  # 0 divides by zero on a constant vector
                  "hidden_dropout_prob": (None, 1, "a number in [0, 1)"),
                  "attention_probs_dropout_prob": (None, 1, "a number in [0, 1)"),
                  "initializer_range": (None, math.inf, "a finite number >= 0")}
        for name, (above, below, what) in ranges.items():
            value = getattr(self, name)
            ok = is_number(value) and math.isfinite(value) and value < below and (
                value > above if above is not None else value >= 0)
            if not ok:
                raise ValueError(f"BertConfig.{name} must be {what}, got {value!r}")
        if not isinstance(self.tie_word_embeddings, bool):
            raise ValueError(f"BertConfig.tie_word_embeddings must be true or false, got {self.tie_word_embeddings!r}")
        pad = self.pad_token_id
        if pad is not None and not (is_int(pad) and 0 <= pad < self.vocab_size):
            raise ValueError(f"BertConfig.pad_token_id must be an id in [0, vocab_size={self.vocab_size}), "
                             f"got {self.pad_token_id!r}")

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, values: dict) -> "BertConfig":
        position_type = values.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise ValueError(f"position_embedding_type {position_type!r} is not supported; only 'absolute'")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @classmethod
    def from_json(cls, path: str | Path) -> "BertConfig":
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        values = read_json(path)
        if not isinstance(values, dict):
            raise ValueError(f"{path} must hold a JSON object, got {type(values).__name__}")
        try:
            return cls.from_dict(values)
        except (TypeError, ValueError) as e:  # name the file: the message alone says only which field
            raise ValueError(f"{path}: {e}") from None

    def to_dict(self, architectures: list[str] | None = None) -> dict:
        # The keys transformers expects too, so a saved folder loads with transformers' BertModel.
        return {"architectures": architectures or ["BertModel"], "model_type": "bert",
                "position_embedding_type": "absolute", **dataclasses.asdict(self)}

    def to_json(self, path: str | Path, architectures: list[str] | None = None) -> None:
        write_json(path, self.to_dict(architectures))
