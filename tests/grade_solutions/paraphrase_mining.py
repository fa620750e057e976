"""Reference solution."""

import torch


def paraphrase_mining(embeddings, top_k):
    e = embeddings / embeddings.norm(dim=1, keepdim=True)
    s = e @ e.T
    s.fill_diagonal_(float("-inf"))
    values, cols = torch.topk(s, top_k, dim=1)
    pairs = {}
    for i in range(len(e)):
        for score, j in zip(values[i].tolist(), cols[i].tolist()):
            pairs[(min(i, j), max(i, j))] = score
    return sorted(((s, i, j) for (i, j), s in pairs.items()), key=lambda t: (-t[0], t[1], t[2]))
