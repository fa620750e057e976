# %% [markdown]
# # 07 · Pre-training BERT: masked language modelling, from scratch
#
# Every notebook so far started from all-MiniLM-L6-v2, which is already a sentence encoder. This one starts
# one step earlier, with a BERT that knows nothing. BERT (Devlin et al. 2019, §3.1) learns from raw text
# with two tasks: **masked language modelling** (hide 15% of the tokens, predict them) and **next sentence
# prediction** (is segment B the continuation of segment A?). We do both by hand on one sentence, check the
# loss against transformers, pre-train a tiny BERT for a minute, and then watch SBERT's siamese training
# turn its token vectors into sentence vectors.
#
# The full-size run (a `mini` BERT, 50 minutes, then SBERT on SNLI) is `experiments/table1.py`; its
# numbers are in the README and at the end of this notebook.

# %%
from _setup import MODEL_DIR, DATA_DIR, TOL, REPO  # weights, data, tolerance, this checkout; seeds fixed

# %%
import glob
import json
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
import transformers
transformers.logging.disable_progress_bar()
from minisbert import BertConfig, BertForMaskedLM, BertForPreTraining, BertModel, SentenceBert
from minisbert.corpus import held_out_sentences
from minisbert.data import SNLI_LABELS, load_snli, load_stsb
from minisbert.evaluate import evaluate_sts
from minisbert.examples import PairExample
from minisbert.fill_mask import fill_mask
from minisbert.masking import mask_tokens
from minisbert.objectives import ClassificationObjective
from minisbert.pretrain import PretrainConfig, pretrain
from minisbert.similarity import cos_sim
from minisbert.tokenizer import load_tokenizer
from minisbert.train import TrainConfig, train

tokenizer = load_tokenizer(MODEL_DIR)  # all-MiniLM-L6-v2's uncased WordPiece vocabulary: 30,522 tokens
STEPS = int(os.environ.get("NB07_STEPS", "200"))  # pre-training steps here (CI runs the default)
print(len(tokenizer.vocab), "tokens in the vocabulary;", STEPS, "pre-training steps below")

# %% [markdown]
# ## 1. Masking by hand
#
# Select each token with probability 15%, never `[CLS]`, `[SEP]` or `[PAD]`. Of the selected: 80% become
# `[MASK]`, 10% a random token, 10% stay as they are. The labels keep the original token where selected and
# -100 ("ignore") elsewhere. Why not always `[MASK]`? It never appears at fine-tuning time, so the model must
# keep good vectors for real tokens too: it cannot tell which unmasked-looking token will be scored.
#
# The draws, done by hand in the order `minisbert.masking.mask_tokens` and transformers'
# `DataCollatorForLanguageModeling` make them:

# %%
sentence = "The man went to the store to buy a gallon of milk and some fresh bread."
batch = tokenizer([sentence])
ids = batch["input_ids"]                                          # (1, T)
special = (ids == tokenizer.cls_token_id) | (ids == tokenizer.sep_token_id)
g = torch.Generator().manual_seed(3)

p = torch.full(ids.shape, 0.15).masked_fill(special, 0.0)       # 15%, never a special token
selected = torch.bernoulli(p, generator=g).bool()
as_mask = torch.bernoulli(torch.full(ids.shape, 0.8), generator=g).bool() & selected
as_random = torch.bernoulli(torch.full(ids.shape, 0.5), generator=g).bool() & selected & ~as_mask  # half the rest
random_ids = torch.randint(len(tokenizer.vocab), ids.shape, generator=g)
inputs = ids.clone()
inputs[as_mask] = tokenizer.mask_token_id
inputs[as_random] = random_ids[as_random]
labels = torch.where(selected, ids, -100)

for t, i, l in zip(tokenizer.convert_ids_to_tokens(ids[0].tolist()), inputs[0].tolist(), labels[0].tolist()):
    note = "" if l == -100 else ("-> [MASK]" if i == tokenizer.mask_token_id else "-> random" if i != l else "-> kept")
    print(f"{t:>10} {tokenizer.convert_ids_to_tokens(i):>10}  label {l:>6}  {note}")

# The library and transformers' collator draw exactly the same masks from the same generator state:
ours = mask_tokens(ids, special, len(tokenizer.vocab), tokenizer.mask_token_id, torch.Generator().manual_seed(3))
collator = transformers.DataCollatorForLanguageModeling(transformers.AutoTokenizer.from_pretrained(MODEL_DIR))
collator.generator = torch.Generator().manual_seed(3)
theirs = collator.torch_mask_tokens(ids.clone(), special_tokens_mask=special.long())
assert torch.equal(ours[0], inputs) and torch.equal(ours[1], labels)
assert torch.equal(theirs[0], inputs) and torch.equal(theirs[1], labels)

# %% [markdown]
# Over many tokens the proportions come out as the paper says:

# %%
many = torch.randint(1000, 30000, (512, 128))
sp = torch.zeros_like(many, dtype=torch.bool)
sp[:, 0] = sp[:, -1] = True
x, y = mask_tokens(many, sp, len(tokenizer.vocab), tokenizer.mask_token_id, torch.Generator().manual_seed(0))
sel = y != -100
share = {"selected": sel.float().sum() / (~sp).sum(), "[MASK]": ((x == tokenizer.mask_token_id) & sel).sum() / sel.sum(),
         "unchanged": ((x == many) & sel).sum() / sel.sum()}
print({k: round(float(v), 4) for k, v in share.items()})
assert abs(share["selected"] - 0.15) < 0.005 and abs(share["[MASK]"] - 0.8) < 0.01
assert not sel[sp].any()

# %% [markdown]
# ## 2. The masked-LM loss by hand
#
# The head is `LayerNorm(gelu(dense(h)))`, then a product with the **word-embedding matrix** E (30,522 × H),
# tied: a token's input vector and its output vector are the same row, plus one bias per token. The loss is
# the cross-entropy at the selected positions only. We compute it for a small random BERT with the
# heads and compare with transformers' `BertForMaskedLM` holding the same weights.

# %%
torch.manual_seed(0)
small = BertConfig(vocab_size=len(tokenizer.vocab), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                   intermediate_size=256, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
mlm = BertForMaskedLM(small).eval()
with tempfile.TemporaryDirectory() as folder:
    mlm.save_pretrained(folder)
    hf = transformers.BertForMaskedLM.from_pretrained(folder).eval()

with torch.no_grad():
    h = mlm.bert(inputs).last_hidden_state[0]                    # (T, H)
    head = mlm.cls.predictions
    t = head.transform.LayerNorm(F.gelu(head.transform.dense(h)))  # (T, H)
    logits = t @ mlm.bert.embeddings.word_embeddings.weight.T + head.bias  # (T, V): the tied decoder
    rows = labels[0] != -100
    log_probs = logits[rows].log_softmax(dim=-1)                  # (masked, V)
    by_hand = -log_probs[torch.arange(int(rows.sum())), labels[0][rows]].mean()
    reference = hf(input_ids=inputs, labels=labels).loss
print(f"by hand {by_hand.item():.6f}   transformers {reference.item():.6f}   "
      f"ln(V) = {torch.log(torch.tensor(float(len(tokenizer.vocab)))).item():.4f} (a uniform guess)")
assert abs(by_hand - reference) < TOL
assert abs(mlm(inputs, labels=labels).loss - reference) < TOL

# %% [markdown]
# The vocabulary projection is the largest matrix product of the whole model, and only the ~15% scored
# rows enter the loss. `decode="labelled"` projects just those rows: the same loss and the same gradients,
# about 6.7 times fewer rows through a (H × 30,522) product.

# %%
full = mlm(inputs, labels=labels)
part = mlm(inputs, labels=labels, decode="labelled")
print(tuple(full.logits.shape), "->", tuple(part.logits.shape))
assert torch.allclose(full.loss, part.loss, atol=1e-6)

# %% [markdown]
# ## 3. Pre-training a tiny BERT
#
# `minisbert.pretrain` packs the corpus into `[CLS] A [SEP] B [SEP]` examples (half the B segments come from
# another document: the next-sentence task), draws new masks for every batch, and trains with AdamW,
# warm-up and linear decay. Here: a `tiny` BERT (2 layers, H = 128) on Jane Austen's novels, for a few hundred
# steps; the held-out masked-token accuracy is logged beside the accuracy of always guessing the most
# frequent token.

# %%
work = Path(tempfile.mkdtemp())
before = BertForPreTraining(BertConfig(vocab_size=len(tokenizer.vocab), hidden_size=128, num_hidden_layers=2,
                                       num_attention_heads=2, intermediate_size=512)).eval()
config = PretrainConfig(size="tiny", max_len=64, batch_size=32, lr=1e-3, max_steps=STEPS, eval_every=max(STEPS // 5, 1),
                        eval_examples=128, progress=False, precision="fp32")
state = pretrain([DATA_DIR / "corpus" / "austen.txt"], work / "tiny-bert", config, tokenizer=tokenizer,
                 cache_dir=work / "cache", exclude=held_out_sentences(DATA_DIR), log=print)
after = BertForPreTraining.from_pretrained(work / "tiny-bert")

fig, ax = plt.subplots(1, 2, figsize=(10, 3.2))
ax[0].plot(state.losses, lw=0.8)
ax[0].set(xlabel="step", ylabel="MLM + NSP loss", title="training loss")
ax[1].plot([e["step"] for e in state.evals], [100 * e["accuracy"] for e in state.evals], "o-", label="masked-token accuracy")
ax[1].plot([e["step"] for e in state.evals], [100 * e["most_frequent_accuracy"] for e in state.evals], "--",
           label="always the most frequent token")
ax[1].set(xlabel="step", ylabel="held-out %", title="held-out accuracy")
ax[1].legend()
plt.tight_layout()
plt.show()
assert state.evals[-1]["mlm_loss"] < state.evals[0]["mlm_loss"]

# %% [markdown]
# ## 4. fill-mask, before and after
#
# What does the model put at `[MASK]`? Before pre-training: anything, with probabilities near 1/30,522.
# After a minute: the frequent words that fit the slot. The 51-minute `mini` model of `experiments/table1.py`
# does better (see the README); BERT-base, after 3.3 billion words, predicts "store".

# %%
for text in ["The man went to the [MASK] to buy milk.", "She was the [MASK] of the two daughters.",
             "It is a truth universally acknowledged, that a single man in possession of a good [MASK] must be in want of a wife."]:
    print(text)
    for name, model in (("before", before), ("after", after)):
        top = fill_mask(model, tokenizer, text, k=5)[0]
        print(f"  {name:>6}: " + ", ".join(f"{tok} {p:.3f}" for tok, p in top))

# %% [markdown]
# ## 5. From BERT to SBERT
#
# A raw BERT's mean-pooled token vectors are a poor sentence vector (the SBERT paper's Table 1: 46.35 on
# STSb for BERT-base, its CLS vector 16.50). SBERT's classification objective on NLI pairs — softmax over
# [u; v; |u − v|], each sentence through the same BERT on its own — reorganises the vector space. Here we
# train our tiny BERT for a short while on SNLI pairs and compare the similarity matrices and the STSb
# Spearman before and after.

# %%
sentences = ["A man is playing a guitar.", "A person plays an instrument.", "A woman is cutting an onion.",
             "Someone is chopping vegetables.", "The dog runs in the park.", "A cat sleeps on the sofa."]
stsb = load_stsb("test", DATA_DIR)[:600]

raw = SentenceBert(BertModel.from_pretrained(work / "tiny-bert"), tokenizer, pooling="mean", max_seq_length=64).eval()
cls = SentenceBert(BertModel.from_pretrained(work / "tiny-bert"), tokenizer, pooling="cls", max_seq_length=64).eval()
scores = {"raw BERT, CLS": evaluate_sts(cls, stsb)["spearman"], "raw BERT, mean": evaluate_sts(raw, stsb)["spearman"]}
sim_before = cos_sim(raw.encode(sentences, convert_to="torch"), raw.encode(sentences, convert_to="torch"))

sbert = SentenceBert(BertModel.from_pretrained(work / "tiny-bert"), tokenizer, pooling="mean", max_seq_length=64)
pairs = [PairExample(r.premise, r.hypothesis, r.label) for r in load_snli("train", DATA_DIR)[:STEPS * 16]]
objective = ClassificationObjective(sbert, SNLI_LABELS)
train(objective, pairs, TrainConfig(epochs=1, batch_size=16, lr=1e-4, progress=False))
sbert.eval()
scores["after SBERT-NLI, mean"] = evaluate_sts(sbert, stsb)["spearman"]
sim_after = cos_sim(sbert.encode(sentences, convert_to="torch"), sbert.encode(sentences, convert_to="torch"))

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, sim, title in ((axes[0], sim_before, "raw BERT (mean pooling)"), (axes[1], sim_after, "after SBERT on NLI")):
    ax.imshow(sim, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(6), [s[:18] for s in sentences], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(6), [s[:18] for s in sentences], fontsize=7)
    ax.set_title(title)
plt.tight_layout()
plt.show()
for name, value in scores.items():
    print(f"{name:>24}: STSb test (first 600 pairs) Spearman {value:6.2f}")

# %% [markdown]
# A raw BERT's mean-pooled vectors sit close to one another whatever the sentences say (the left matrix is
# nearly uniform). A few thousand NLI pairs on a one-minute BERT move little. The full pipeline, from a
# 51-minute `mini` BERT and SNLI's 100,000 pairs, shows the paper's shape, CLS < mean < SBERT-NLI, at lower
# numbers than BERT-base after 3.3 billion words:

# %%
table = json.loads((REPO / "experiments" / "results" / "table1" / "table1.json").read_text())
rows = [("BERT CLS-vector", table["raw"]["cls"]["stsb_test"], table["paper"]["BERT CLS-vector"]),
        ("BERT pooler output", table["raw"]["pooler"]["stsb_test"], None),
        ("Avg. BERT embeddings", table["raw"]["mean"]["stsb_test"], table["paper"]["Avg. BERT embeddings"]),
        ("Avg. GloVe embeddings", None, table["paper"]["Avg. GloVe embeddings"]),
        ("InferSent - GloVe", None, table["paper"]["InferSent - GloVe"]),
        ("random-init BERT + NLI", table["nli_random_init"]["stsb_test"], None),
        ("SBERT-NLI", table["nli"]["stsb_test"], table["paper"]["SBERT-NLI-base"])]
print(f"{'STSb test Spearman':>24}  {'ours (' + table['size'] + ')':>12}  {'paper (base)':>12}")
for name, ours_, paper in rows:
    print(f"{name:>24}  {'' if ours_ is None else f'{ours_:.2f}':>12}  {'' if paper is None else f'{paper:.2f}':>12}")
