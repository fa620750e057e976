"""Exercise 3: BERT's input embeddings, token ids -> the first token vectors.

Grade it: python -m minisbert grade embeddings
"""

import torch


def embeddings(input_ids, token_type_ids, word, position, token_type, ln_weight, ln_bias, eps):
    """The vectors that enter BERT's first layer: word + position + segment embedding, then LayerNorm.

    Devlin et al. 2019 (BERT), section 3.2 and figure 2: "the input embeddings are the sum of the
    token embeddings, the segmentation embeddings and the position embeddings". BERT's positions are
    learned, one row per position (not the sine waves of the original Transformer).

        e[b, t] = word[input_ids[b, t]] + position[t] + token_type[token_type_ids[b, t]]
        out     = LayerNorm(e) = (e - mean(e)) / sqrt(var(e) + eps) * ln_weight + ln_bias

    mean and var are over the last axis (H), var the population variance (divide by H).

    Args:
        input_ids: (B, T) long, token ids.
        token_type_ids: (B, T) long, 0 for sentence A, 1 for sentence B.
        word: (V, H) word embedding matrix (embeddings.word_embeddings.weight).
        position: (P, H) position embeddings, P >= T (embeddings.position_embeddings.weight).
        token_type: (2, H) segment embeddings (embeddings.token_type_embeddings.weight).
        ln_weight, ln_bias: (H,) LayerNorm gain and bias (embeddings.LayerNorm.weight / .bias).
        eps: LayerNorm epsilon; BERT uses 1e-12.

    Returns:
        (B, T, H) float tensor. (No dropout: the grader checks inference.)

    Hints:
        - Indexing a matrix with a tensor of ids, ``word[input_ids]``, gives (B, T, H).
        - ``torch.nn.functional.layer_norm(x, (H,), ln_weight, ln_bias, eps)`` exists; use the eps you are
          given, PyTorch's default 1e-5 is off by about 1e-3 here.

    Write LayerNorm yourself: ``F.layer_norm`` / ``nn.LayerNorm`` are flagged in the report (your teacher
    may forbid them).
    """
    raise NotImplementedError
