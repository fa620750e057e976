"""Exercise 13: in-batch negatives, the loss that trains most sentence encoders after SBERT.

Grade it: python -m minisbert grade in_batch_negatives_loss
"""

import torch


def in_batch_negatives_loss(a, p, n=None, scale=20.0):
    """The multiple-negatives ranking loss (Henderson et al. 2017; sentence-transformers'
    ``MultipleNegativesRankingLoss``), averaged over the batch.

    Row i of ``a`` (an anchor) belongs with row i of ``p`` (its positive). Every other row of ``p``, and
    every row of ``n`` when hard negatives are given, is a wrong answer for anchor i: the batch supplies
    its own negatives. Score anchor i against every candidate with the cosine similarity times ``scale``,
    and take the cross-entropy with the right candidate, its own positive, as the label:

        candidates = [p; n]                                   (B, H) or (2B, H) with hard negatives
        scores     = scale · cos(a_i, candidate_j)            (B, B) or (B, 2B)
        loss       = mean_i  cross_entropy(scores_i, label = i)

    The label of row i is i: the true pairs sit on the diagonal of the first B columns.

    Args:
        a, p: (B, H) anchor and positive sentence vectors, B ≥ 2 (one row has no in-batch negative).
        n: None, or (B, H) hard negatives (e.g. a contradiction of each anchor, from NLI).
        scale: the inverse temperature on the cosines, a float (20 by default): cosines lie in [−1, 1],
            and a softmax over numbers that close together is nearly uniform.

    Returns:
        A scalar tensor: the mean over the B anchors.

    Hint: ``F.normalize(x, dim=-1)`` makes rows unit length, so ``a @ c.T`` is the cosine matrix;
    ``F.cross_entropy(scores, labels)`` averages over the rows.

    Write it yourself: this exercise is the loss, not a call to a library that has it.
    """
    raise NotImplementedError
