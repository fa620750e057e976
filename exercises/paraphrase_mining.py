"""Exercise 12: paraphrase mining, the most similar pairs among n sentence vectors.

Grade it: python -m minisbert grade paraphrase_mining
"""

import torch


def paraphrase_mining(embeddings, top_k):
    """The most similar pairs of sentences, by cosine similarity, best first.

    Reimers & Gurevych 2019, introduction: finding the most similar pair among n = 10,000 sentences
    takes n(n−1)/2 = 49,995,000 BERT passes with a cross-encoder (about 65 hours), but with SBERT one
    encoding per sentence and one matrix product: all cosine similarities are

        S = Û Ûᵀ,    Û = each row of the embeddings divided by its norm,   S[i, j] = cos(e_i, e_j)

    As sentence-transformers' ``paraphrase_mining``: each sentence keeps its ``top_k`` most similar
    OTHER sentences; a pair (i, j) is in the answer when either of its sentences chose the other,
    and appears once, as (score, i, j) with i < j.

    Args:
        embeddings: (n, H) float, one vector per sentence, n >= 2.
        top_k: how many partners each sentence keeps (top_k < n).

    Returns:
        A list of (score, i, j) tuples, score a float, i < j ints, sorted by score, highest first.

    Hints:
        - Set the diagonal of S to -inf so that a sentence is not its own best partner;
          ``torch.topk(S, top_k, dim=1)`` then gives each row's best.
        - A set of (min(i, j), max(i, j)) removes the pairs found from both sides.
    """
    raise NotImplementedError
