"""Exercise 9: SBERT's regression objective (STS), cosine similarity against the gold score.

Grade it: python -m minisbert grade regression_loss
"""

import torch


def regression_loss(u, v, scores):
    """The loss SBERT is trained with on STS: squared error between cos(u, v) and the gold score.

    Reimers & Gurevych 2019, section 3, "Regression Objective Function": "the cosine-similarity
    between the two sentence embeddings u and v is computed. We use mean-squared-error loss".

        loss = 1/N Σ_i (cos(u_i, v_i) − y_i)²,    cos(u, v) = u·v / (‖u‖ ‖v‖)

    The gold scores are already scaled to [0, 1] (STSb's 0-5 divided by 5).

    Args:
        u, v: (N, H) sentence vectors (not necessarily of unit length).
        scores: (N,) float gold similarities in [0, 1].

    Returns:
        A scalar tensor.

    Hint: a dot product equals the cosine only for unit vectors; these are not.
    """
    raise NotImplementedError
