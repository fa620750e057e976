"""Plausible wrong answers, one or more per exercise, each with the hint the grader must give for it.

``WRONG`` lists (exercise, what the mistake is, the functions of the answer, a phrase of the expected
hint). The right functions an answer needs beside its wrong one come from the reference solutions in
this folder.
"""

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from minisbert.grading import load_file

HERE = Path(__file__).resolve().parent


def good(name):
    return load_file(HERE / f"{name}.py")


basic, piece, emb, head, mha, layer, pool, classification, triplet, masking = (good(n) for n in (
    "basic_tokenize", "wordpiece", "embeddings", "attention_head", "multi_head_attention", "bert_layer", "pooling",
    "classification_loss", "triplet_loss", "mlm_mask"))


# --- tokenizer ---------------------------------------------------------------------------------------

def _tokenize(text, accents=True, lower=True, punctuation=basic.is_punctuation):
    """A student's basic tokenizer with switches for its mistakes."""
    import unicodedata

    out = []
    for c in text:
        if c in "\x00\ufffd" or (c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf")):
            continue
        c = " " if c in " \t\n\r" or unicodedata.category(c) == "Zs" else c
        out.append(f" {c} " if any(lo <= ord(c) <= hi for lo, hi in basic.CJK) else c)
    text = "".join(out)
    if accents:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    if lower:
        text = text.lower()
    return "".join(f" {c} " if punctuation(c) else c for c in text).split()


def tokenize_keeping_accents(text):
    return _tokenize(text, accents=False)


def tokenize_unicode_punctuation_only(text):
    import unicodedata

    return _tokenize(text, punctuation=lambda c: unicodedata.category(c).startswith("P"))


def tokenize_without_lower(text):
    return _tokenize(text, lower=False)


def wordpiece_without_hashes(word, vocab):
    if len(word) > 100:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            if word[start:end] in vocab:  # forgot the "##" of continuation pieces
                pieces.append(word[start:end])
                start = end
                break
        else:
            return ["[UNK]"]
    return pieces


def wordpiece_unk_only_the_part(word, vocab):
    pieces, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = ("##" if start else "") + word[start:end]
            if piece in vocab:
                pieces.append(piece)
                start = end
                break
        else:
            pieces.append("[UNK]")  # only this character is unknown, the rest goes on
            start += 1
    return pieces


# --- BERT ----------------------------------------------------------------------------------------------

def embeddings_eps_default(input_ids, token_type_ids, word, position, token_type, ln_weight, ln_bias, eps):
    T = input_ids.shape[1]
    e = word[input_ids] + position[:T] + token_type[token_type_ids]
    return F.layer_norm(e, e.shape[-1:], ln_weight, ln_bias)  # PyTorch's default eps, 1e-5


def embeddings_no_position(input_ids, token_type_ids, word, position, token_type, ln_weight, ln_bias, eps):
    e = word[input_ids] + token_type[token_type_ids]
    return F.layer_norm(e, e.shape[-1:], ln_weight, ln_bias, eps)


def head_without_sqrt_d(x, wq, bq, wk, bk, wv, bv, mask):
    q, k, v = x @ wq.T + bq, x @ wk.T + bk, x @ wv.T + bv
    scores = (q @ k.transpose(-2, -1)).masked_fill(mask[:, None, :] == 0, -1e9)
    return scores.softmax(-1) @ v


def head_softmax_over_queries(x, wq, bq, wk, bk, wv, bv, mask):
    q, k, v = x @ wq.T + bq, x @ wk.T + bk, x @ wv.T + bv
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(mask[:, None, :] == 0, -1e9)
    return scores.softmax(dim=1) @ v


def head_unmasked(x, wq, bq, wk, bk, wv, bv, mask):
    q, k, v = x @ wq.T + bq, x @ wk.T + bk, x @ wv.T + bv
    return (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1) @ v


def _mha(x, w, mask, num_heads, merge_without_transpose=False, scale=None):
    B, T, H = x.shape
    d = H // num_heads
    split = lambda t: t.view(B, T, num_heads, d).transpose(1, 2)
    q, k, v = (split(x @ w[f"attention.self.{n}.weight"].T + w[f"attention.self.{n}.bias"]) for n in ("query", "key", "value"))
    scores = q @ k.transpose(-2, -1) / math.sqrt(scale or d)
    c = scores.masked_fill(mask[:, None, None, :] == 0, float("-inf")).softmax(-1) @ v  # (B, nh, T, d)
    c = c.reshape(B, T, H) if merge_without_transpose else c.transpose(1, 2).reshape(B, T, H)
    return c @ w["attention.output.dense.weight"].T + w["attention.output.dense.bias"]


def mha_merge_without_transpose(x, w, mask, num_heads):
    return _mha(x, w, mask, num_heads, merge_without_transpose=True)


def mha_scaled_by_hidden_size(x, w, mask, num_heads):
    return _mha(x, w, mask, num_heads, scale=x.shape[-1])


def _layer(x, w, mask, num_heads, eps=1e-12, gelu=F.gelu, pre_ln=False):
    ln1 = lambda t: F.layer_norm(t, t.shape[-1:], w["attention.output.LayerNorm.weight"], w["attention.output.LayerNorm.bias"], eps)
    ln2 = lambda t: F.layer_norm(t, t.shape[-1:], w["output.LayerNorm.weight"], w["output.LayerNorm.bias"], eps)
    ffn = lambda t: gelu(t @ w["intermediate.dense.weight"].T + w["intermediate.dense.bias"]) @ w["output.dense.weight"].T + w["output.dense.bias"]
    if pre_ln:
        a = x + mha.multi_head_attention(ln1(x), w, mask, num_heads)
        return a + ffn(ln2(a))
    a = ln1(x + mha.multi_head_attention(x, w, mask, num_heads))
    return ln2(a + ffn(a))


def layer_eps_default(x, w, mask, num_heads):
    return _layer(x, w, mask, num_heads, eps=1e-5)


def layer_tanh_gelu(x, w, mask, num_heads):
    return _layer(x, w, mask, num_heads, gelu=lambda t: F.gelu(t, approximate="tanh"))


def layer_pre_ln(x, w, mask, num_heads):
    return _layer(x, w, mask, num_heads, pre_ln=True)


# --- pooling, objectives -------------------------------------------------------------------------------

def mean_unmasked(h, mask):
    return h.mean(dim=1)


def max_padding_zero(h, mask):
    return (h * mask.unsqueeze(-1)).max(dim=1).values  # padding becomes 0, which beats negative values


def cls_last_token(h, mask):
    return h[:, -1]


def classification_without_abs(u, v, weight, bias, labels):
    return F.cross_entropy(torch.cat([u, v, u - v], 1) @ weight.T + bias, labels)


def classification_softmax_first(u, v, weight, bias, labels):
    return F.cross_entropy((torch.cat([u, v, (u - v).abs()], 1) @ weight.T + bias).softmax(-1), labels)


def regression_dot(u, v, scores):
    return ((u * v).sum(-1) - scores).pow(2).mean()


def regression_sum(u, v, scores):
    return (F.cosine_similarity(u, v) - scores).pow(2).sum()


def triplet_squared(a, p, n, margin):
    return torch.relu((a - p).pow(2).sum(-1) - (a - n).pow(2).sum(-1) + margin).mean()


def triplet_no_relu(a, p, n, margin):
    return ((a - p).norm(dim=-1) - (a - n).norm(dim=-1) + margin).mean()


def triplet_margin_ignored(a, p, n, margin):
    return torch.relu((a - p).norm(dim=-1) - (a - n).norm(dim=-1) + 1.0).mean()


# --- masking -------------------------------------------------------------------------------------------

def mask_always_mask(input_ids, special_mask, vocab_size, generator):
    selected = (torch.rand(input_ids.shape, generator=generator) < 0.15) & ~special_mask
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, -100))
    return input_ids.masked_fill(selected, 103), labels


def mask_global_rng(input_ids, special_mask, vocab_size, generator):
    selected = (torch.rand(input_ids.shape) < 0.15) & ~special_mask  # forgets the generator
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, -100))
    choice = torch.rand(input_ids.shape)
    inputs = input_ids.clone()
    inputs[selected & (choice < 0.8)] = 103
    rnd = selected & (choice >= 0.8) & (choice < 0.9)
    inputs[rnd] = torch.randint(vocab_size, input_ids.shape)[rnd]
    return inputs, labels


def mask_specials_too(input_ids, special_mask, vocab_size, generator):
    selected = torch.rand(input_ids.shape, generator=generator) < 0.15  # ignores special_mask
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, -100))
    return input_ids.masked_fill(selected, 103), labels


def mask_random_ten_percent_of_rest(input_ids, special_mask, vocab_size, generator):
    selected = (torch.rand(input_ids.shape, generator=generator) < 0.15) & ~special_mask
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, -100))
    to_mask = selected & (torch.rand(input_ids.shape, generator=generator) < 0.8)
    to_random = selected & ~to_mask & (torch.rand(input_ids.shape, generator=generator) < 0.1)  # should be 0.5
    inputs = input_ids.masked_fill(to_mask, 103)
    inputs[to_random] = torch.randint(vocab_size, input_ids.shape, generator=generator)[to_random]
    return inputs, labels


# --- paraphrase mining ---------------------------------------------------------------------------------

def mining_with_self_pairs(embeddings, top_k):
    e = F.normalize(embeddings, dim=1)
    s = e @ e.T
    values, cols = torch.topk(s, top_k, dim=1)  # the diagonal (1.0) wins every row
    pairs = {(min(i, j), max(i, j)): v for i in range(len(e)) for v, j in zip(values[i].tolist(), cols[i].tolist())}
    return sorted(((v, i, j) for (i, j), v in pairs.items()), reverse=True)


def mining_dot_product(embeddings, top_k):
    s = embeddings @ embeddings.T  # not normalised
    s.fill_diagonal_(float("-inf"))
    values, cols = torch.topk(s, top_k, dim=1)
    pairs = {(min(i, j), max(i, j)): v for i in range(len(s)) for v, j in zip(values[i].tolist(), cols[i].tolist())}
    return sorted(((v, i, j) for (i, j), v in pairs.items()), key=lambda t: -t[0])


def mining_top_k_pairs_overall(embeddings, top_k):
    e = F.normalize(embeddings, dim=1)
    s = e @ e.T
    pairs = [(s[i, j].item(), i, j) for i in range(len(e)) for j in range(i + 1, len(e))]
    return sorted(pairs, key=lambda t: -t[0])[:top_k]


# --- answers that once passed, or got a hint that blamed code that is right ------------------------------

def wordpiece_unk_at_100(word, vocab):
    return ["[UNK]"] if len(word) >= 100 else piece.wordpiece(word, vocab)  # >= where the rule says >


def wordpiece_shortest_match(word, vocab):
    pieces, start = [], 0
    while start < len(word):
        for end in range(start + 1, len(word) + 1):  # shortest first
            p = ("##" if start else "") + word[start:end]
            if p in vocab:
                pieces.append(p)
                start = end
                break
        else:
            return ["[UNK]"]
    return pieces


def mha_split_without_transpose(x, w, mask, num_heads):
    B, T, H = x.shape
    d = H // num_heads
    split = lambda t: t.reshape(B, num_heads, T, d)  # no view (B, T, nh, d) + transpose
    q, k, v = (split(x @ w[f"attention.self.{n}.weight"].T + w[f"attention.self.{n}.bias"]) for n in ("query", "key", "value"))
    scores = (q @ k.transpose(-2, -1) / math.sqrt(d)).masked_fill(mask[:, None, None, :] == 0, float("-inf"))
    c = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H)
    return c @ w["attention.output.dense.weight"].T + w["attention.output.dense.bias"]


def mha_without_projection(x, w, mask, num_heads):
    d = x.shape[-1] // num_heads
    return torch.cat([head.attention_head(x, *(w[f"attention.self.{n}.{p}"][h * d:(h + 1) * d]
                                                for n in ("query", "key", "value") for p in ("weight", "bias")), mask)
                      for h in range(num_heads)], dim=-1)  # the heads, concatenated, never projected


def mean_normalised_tokens(h, mask):
    return pool.mean_pool(F.normalize(h, dim=-1), mask)


def mean_without_clamp(h, mask):
    m = mask.unsqueeze(-1).float()
    return (h * m).sum(1) / m.sum(1)  # an all-padding row: 0 / 0


def max_pool_in_place(h, mask):
    return h.masked_fill_(mask.unsqueeze(-1) == 0, float("-inf")).max(dim=1).values  # fills the caller's tensor


def cls_second_token(h, mask):
    return h[:, 1]


def classification_without_graph(u, v, weight, bias, labels):
    with torch.no_grad():
        return classification.classification_loss(u, v, weight, bias, labels)


def _in_batch(a, p, n, scale, labels=None, hard_only=False):
    candidates = p if n is None else torch.cat([p, n])
    cos = F.normalize(a, dim=-1) @ F.normalize(candidates, dim=-1).T  # (B, B) or (B, 2B)
    B = a.shape[0]
    if hard_only:  # each anchor against its own positive and the hard negatives only
        cos = torch.cat([cos[:, :B].diagonal()[:, None], cos[:, B:]], dim=1)
        labels = torch.zeros(B, dtype=torch.long)
    return F.cross_entropy(scale * cos, torch.arange(B) if labels is None else labels)


def in_batch_label_zero(a, p, n=None, scale=20.0):
    return _in_batch(a, p, n, scale, labels=torch.zeros(a.shape[0], dtype=torch.long))


def in_batch_no_scale(a, p, n=None, scale=20.0):
    return _in_batch(a, p, n, 1.0)


def in_batch_hard_negatives_only(a, p, n=None, scale=20.0):
    return _in_batch(a, p, n, scale, hard_only=True)


def triplet_as_float(a, p, n, margin):
    return triplet.triplet_loss(a, p, n, margin).item()


def mask_in_place(input_ids, special_mask, vocab_size, generator):
    inputs, labels = masking.mlm_mask(input_ids, special_mask, vocab_size, generator)
    input_ids.copy_(inputs)  # writes [MASK] into the caller's batch
    return input_ids, labels


def mask_labels_zero(input_ids, special_mask, vocab_size, generator):
    inputs, labels = masking.mlm_mask(input_ids, special_mask, vocab_size, generator)
    return inputs, labels.masked_fill(labels == -100, 0)


def mining_tensor_scores(embeddings, top_k):
    e = F.normalize(embeddings, dim=1)
    s = e @ e.T
    s.fill_diagonal_(float("-inf"))
    values, cols = torch.topk(s, top_k, dim=1)
    pairs = {}
    for i in range(len(e)):
        for k in range(top_k):
            j = int(cols[i, k])
            pairs[(min(i, j), max(i, j))] = values[i, k]  # a 0-d tensor, not a float
    return sorted(((v, i, j) for (i, j), v in pairs.items()), key=lambda t: (-float(t[0]), t[1], t[2]))


def _pooling(**changed):
    return {"mean_pool": pool.mean_pool, "max_pool": pool.max_pool, "cls_pool": pool.cls_pool, **changed}


WRONG = [
    ("basic_tokenize", "accents kept", {"basic_tokenize": tokenize_keeping_accents}, "accents are kept"),
    ("basic_tokenize", "ASCII symbols not split", {"basic_tokenize": tokenize_unicode_punctuation_only},
     "only Unicode punctuation"),
    ("basic_tokenize", "no lower-casing", {"basic_tokenize": tokenize_without_lower}, "no lower-casing"),
    ("wordpiece", "no ## prefix", {"wordpiece": wordpiece_without_hashes}, "'##' prefix"),
    ("wordpiece", "[UNK] for the part only", {"wordpiece": wordpiece_unk_only_the_part}, "the whole word"),
    ("embeddings", "LayerNorm eps 1e-5", {"embeddings": embeddings_eps_default}, "not PyTorch's default 1e-5"),
    ("embeddings", "no position embedding", {"embeddings": embeddings_no_position}, "position embedding is missing"),
    ("attention_head", "no √d", {"attention_head": head_without_sqrt_d}, "not divided by √d"),
    ("attention_head", "softmax over the queries", {"attention_head": head_softmax_over_queries}, "wrong axis"),
    ("attention_head", "padding not masked", {"attention_head": head_unmasked}, "padding is not masked"),
    ("multi_head_attention", "heads merged without transpose", {"multi_head_attention": mha_merge_without_transpose},
     "put back together wrongly"),
    ("multi_head_attention", "√H instead of √d", {"multi_head_attention": mha_scaled_by_hidden_size}, "not the hidden size"),
    ("bert_layer", "LayerNorm eps 1e-5", {"bert_layer": layer_eps_default}, "eps is 1e-12"),
    ("bert_layer", "tanh GELU", {"bert_layer": layer_tanh_gelu}, "not the tanh approximation"),
    ("bert_layer", "pre-LayerNorm", {"bert_layer": layer_pre_ln}, "post-LayerNorm"),
    ("pooling", "unmasked mean", {"mean_pool": mean_unmasked, "max_pool": pool.max_pool, "cls_pool": pool.cls_pool},
     "the mean includes the padding"),
    ("pooling", "padding wins max pooling", {"mean_pool": pool.mean_pool, "max_pool": max_padding_zero,
                                             "cls_pool": pool.cls_pool}, "padding wins the max"),
    ("pooling", "CLS from the last token", {"mean_pool": pool.mean_pool, "max_pool": pool.max_pool,
                                            "cls_pool": cls_last_token}, "position 0"),
    ("classification_loss", "u − v without abs", {"classification_loss": classification_without_abs}, "|u − v|"),
    ("classification_loss", "softmax before cross_entropy", {"classification_loss": classification_softmax_first},
     "raw logits"),
    ("regression_loss", "dot product", {"regression_loss": regression_dot}, "not the dot product"),
    ("regression_loss", "sum instead of mean", {"regression_loss": regression_sum}, "not the sum"),
    ("triplet_loss", "squared distances", {"triplet_loss": triplet_squared}, "not its square"),
    ("triplet_loss", "no max(·, 0)", {"triplet_loss": triplet_no_relu}, "max(·, 0) is missing"),
    ("triplet_loss", "margin ignored", {"triplet_loss": triplet_margin_ignored}, "use the margin argument"),
    ("mlm_mask", "always [MASK]", {"mlm_mask": mask_always_mask}, "not every selected token becomes [MASK]"),
    ("mlm_mask", "the global random generator", {"mlm_mask": mask_global_rng}, "generator=generator"),
    ("mlm_mask", "special tokens selected", {"mlm_mask": mask_specials_too}, "never selected"),
    ("mlm_mask", "random for 10% of the rest", {"mlm_mask": mask_random_ten_percent_of_rest}, "half (not 10% of them)"),
    ("paraphrase_mining", "self pairs", {"paraphrase_mining": mining_with_self_pairs}, "leave out the diagonal"),
    ("paraphrase_mining", "dot product", {"paraphrase_mining": mining_dot_product}, "cosine"),
    ("paraphrase_mining", "top_k pairs in all", {"paraphrase_mining": mining_top_k_pairs_overall}, "top_k is per sentence"),
    # once passed
    ("mlm_mask", "[MASK] written into the caller's input_ids", {"mlm_mask": mask_in_place}, "work on a new tensor"),
    ("pooling", "max_pool fills the caller's tensor with -inf", _pooling(max_pool=max_pool_in_place),
     "work on a new tensor"),
    ("classification_loss", "computed under torch.no_grad()", {"classification_loss": classification_without_graph},
     "torch.no_grad()"),
    ("triplet_loss", ".item(): a float", {"triplet_loss": triplet_as_float}, ".item()"),
    ("in_batch_negatives_loss", "label 0 for every anchor", {"in_batch_negatives_loss": in_batch_label_zero},
     "its own positive on the diagonal"),
    ("in_batch_negatives_loss", "no scale", {"in_batch_negatives_loss": in_batch_no_scale}, "multiply the cosines by scale"),
    ("in_batch_negatives_loss", "negatives from the hard-negative column only",
     {"in_batch_negatives_loss": in_batch_hard_negatives_only}, "every other anchor's positive is a negative too"),
    ("pooling", "mean without the clamp", _pooling(mean_pool=mean_without_clamp), "clamp the count at 1e-9"),
    ("wordpiece", "[UNK] from 100 characters (>=)", {"wordpiece": wordpiece_unk_at_100}, "exactly 100 characters"),
    ("paraphrase_mining", "0-d tensors as scores", {"paraphrase_mining": mining_tensor_scores}, "a 0-d tensor"),
    # once got a hint that blamed right code
    ("pooling", "tokens normalised before the mean", _pooling(mean_pool=mean_normalised_tokens), "normalised before the mean"),
    ("pooling", "CLS from position 1", _pooling(cls_pool=cls_second_token), "index 1 is the first word"),
    ("mlm_mask", "labels 0 instead of -100", {"mlm_mask": mask_labels_zero}, "a label of 0"),
    ("wordpiece", "greedy shortest match", {"wordpiece": wordpiece_shortest_match}, "longest match first"),
    ("multi_head_attention", "heads split without the transpose", {"multi_head_attention": mha_split_without_transpose},
     "split without the transpose"),
    ("multi_head_attention", "no output projection", {"multi_head_attention": mha_without_projection},
     "output projection"),
]
