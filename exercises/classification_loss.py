"""Exercise 8: SBERT's classification objective (NLI), softmax over [u; v; |u - v|].

Grade it: python -m minisbert grade classification_loss
"""

import torch


def classification_loss(u, v, weight, bias, labels):
    """The loss SBERT is trained with on NLI (entailment / neutral / contradiction).

    Reimers & Gurevych 2019, section 3, "Classification Objective Function":

        o = softmax(W · [u; v; |u − v|])            W of shape (k, 3n), k labels, n = H

    trained with cross-entropy. [u; v; |u − v|] concatenates u, v and their element-wise absolute
    difference, in that order (table 6 compares other choices).

    Args:
        u, v: (N, H) sentence vectors of the two sentences of each pair.
        weight: (k, 3H), bias: (k,): the classifier, stored (out, in) like nn.Linear.
        labels: (N,) long, the gold label of each pair, in [0, k).

    Returns:
        A scalar tensor: the cross-entropy averaged over the N pairs.

    Hints:
        - ``torch.nn.functional.cross_entropy(logits, labels)`` takes raw logits: it applies the
          log-softmax itself (stably), so do not apply a softmax first.
        - ``torch.cat([...], dim=1)``.
    """
    raise NotImplementedError
