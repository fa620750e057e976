"""fill-mask: what a masked-language model believes belongs at each ``[MASK]``.

    "The man went to the [MASK] to buy milk."  ──BertForMaskedLM──▶  store 0.41, market 0.12, shop 0.09, ...

The text is tokenized as usual (``[MASK]`` typed in the text is kept whole as the mask token), the model
scores the whole vocabulary at each masked position, and a softmax turns the scores into probabilities.
This is the task BERT was pre-trained on (Devlin et al. 2019, section 3.1), the quickest way to see what a
pre-trained BERT has learned, and the same thing transformers' ``pipeline("fill-mask")`` does.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .bert import BertForMaskedLM
from .checks import check_positive_int
from .io.weights import check_safetensors_header, resolve_model_dir
from .tokenizer import BertTokenizer, load_tokenizer


class NoMaskedLMHeadError(ValueError):
    """A model folder without the masked-LM head (``cls.predictions.*``): a sentence encoder, for example."""


def load_masked_lm(folder: str | Path) -> tuple[BertForMaskedLM, BertTokenizer]:
    """The masked-LM model and tokenizer of a BERT folder (one saved with ``BertForPreTraining`` or
    ``BertForMaskedLM``, here or by transformers)."""

    folder = resolve_model_dir(folder)
    keys = set(check_safetensors_header(folder / "model.safetensors"))
    if "cls.predictions.bias" not in keys:
        raise NoMaskedLMHeadError(f"{folder} has no masked-LM head (no cls.predictions.* weights): "
                                  f"fill-mask needs a BERT saved with its pre-training heads")
    return BertForMaskedLM.from_pretrained(folder), load_tokenizer(folder)


@torch.no_grad()
def fill_mask(model: BertForMaskedLM, tokenizer, text: str, k: int = 5) -> list[list[tuple[str, float]]]:
    """For each ``[MASK]`` in ``text``, left to right, the ``k`` most probable tokens and their probabilities."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    check_positive_int(k, "k")
    if tokenizer.mask_token is None or tokenizer.mask_token not in text:
        raise ValueError(f"text has no {tokenizer.mask_token or '[MASK]'} token to fill: {text!r}")
    batch = tokenizer([text])
    model.eval()
    logits = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]).logits[0]  # (T, V)
    positions = (batch["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()
    if len(positions) == 0:
        raise ValueError(f"text lost its {tokenizer.mask_token} token to truncation: {text[:80]!r}...")
    probs = logits[positions].float().softmax(dim=-1)  # (masks, V)
    top = probs.topk(min(k, probs.shape[-1]), dim=-1)
    return [[(tokenizer.convert_ids_to_tokens(int(i)), float(p)) for p, i in zip(values, ids)]
            for values, ids in zip(top.values, top.indices)]
