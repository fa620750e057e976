# %% [markdown]
# # 05 · The three SBERT objectives, and one training step by hand
#
# SBERT (Reimers & Gurevych 2019, §3) fine-tunes the siamese network with one of three objectives on the
# sentence vectors u, v (and, for triplets, a, p, n):
#
# | objective | formula | data |
# |---|---|---|
# | classification | `o = softmax(W · [u; v; abs(u − v)])`, W of shape (k, 3H), cross-entropy | NLI labels (here SICK's entailment labels) |
# | regression | `(cos(u, v) − y)²`, mean squared error | gold similarity y in [0, 1] (STSb score / 5) |
# | triplet | `max(‖a − p‖ − ‖a − n‖ + ε, 0)`, Euclidean, ε = 1 | (anchor, positive, negative) |
#
# This notebook writes each loss out on real vectors, checks the loss **and the gradient of every one of
# BERT's parameters** against sentence-transformers' `SoftmaxLoss`, `CosineSimilarityLoss` and
# `TripletLoss`, takes one optimisation step by hand, and ends with a short real training run.

# %% [markdown]
# **You will learn** SBERT's three training objectives (classification on [u; v; |u − v|], cosine regression,
# triplet), their losses and gradients by hand, one optimisation step, and a short training run.
#
# **Read alongside**: [`minisbert/objectives.py`](../minisbert/objectives.py) and
# [`minisbert/training.py`](../minisbert/training.py).
#
# **Afterwards**: exercises 8 `classification_loss`, 9 `regression_loss` and 10 `triplet_loss` — write them in
# `exercises/`, then `python -m minisbert grade classification_loss regression_loss triplet_loss` (see
# [exercises/README.md](../exercises/README.md)).
#
# **Running it**: on your own machine, `make lab` (or `pip install '.[notebooks]'`, then `jupyter lab
# notebooks/`); on Google Colab, the first code cell sets everything up.

# %%
# On Google Colab this cell first fetches the course: it clones the repository, installs it with
# `pip install '.[notebooks]'` and moves into its notebooks/ folder; `_setup` then fetches the weights
# and the data sets (a few minutes, once per Colab session). On your own machine it only imports.
import os, subprocess, sys
if "google.colab" in sys.modules and not os.path.exists("_setup.py"):
    REPOSITORY = ""  # the git address of the minisbert you work from: your course's copy or your fork
    assert REPOSITORY, "on Colab, set REPOSITORY above to the git address of your copy of minisbert, then run again"
    if not os.path.isdir("minisbert"):
        subprocess.run(f"git clone -q --depth 1 {REPOSITORY} minisbert && pip install -q './minisbert[notebooks]'",
                       shell=True, check=True)
    os.chdir("minisbert/notebooks")
from _setup import MODEL_DIR, DATA_DIR, TOL  # weights, data folder, tolerance; seeds fixed

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import transformers
transformers.logging.disable_progress_bar()
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss, SoftmaxLoss, TripletLoss
from minisbert import SentenceBert
from minisbert.io.data import SICK_LABELS
from minisbert.examples import sick_classification, sick_triplets, stsb_regression
from minisbert.objectives import ClassificationObjective, RegressionObjective, TripletObjective

ours = SentenceBert.from_pretrained(MODEL_DIR).eval()              # eval: dropout off, so both libraries
st = SentenceTransformer(str(MODEL_DIR), device="cpu").eval()       # compute the same function
ours_params = dict(ours.bert.named_parameters())
st_params = dict(st[0].model.named_parameters())                    # the same names: the checkpoint's
assert ours_params.keys() == st_params.keys()

def zero_grads():
    ours.zero_grad(set_to_none=True); st.zero_grad(set_to_none=True)

def compare_gradients():
    """Largest |Δ| over the gradients of all BERT parameters (the pooler gets none: mean pooling skips it)."""
    diffs = {n: (p.grad - st_params[n].grad).abs().max().item() for n, p in ours_params.items() if p.grad is not None}
    largest = max(p.grad.abs().max().item() for p in ours_params.values() if p.grad is not None)
    worst = max(diffs, key=diffs.get)
    print(f"gradients of {len(diffs)} parameter tensors: largest entry {largest:.1e}, "
          f"max |Δ| vs sentence-transformers {diffs[worst]:.1e} ({worst})")
    assert diffs[worst] < TOL and largest > 100 * TOL
    return diffs

def embed(texts):
    return ours.embed(ours.tokenize(texts))                         # (B, H), with autograd

def balanced(examples, k):
    """The first k examples of each label, in file order."""
    return [e for label in SICK_LABELS for e in [e for e in examples if e.label == label][:k]]


# %% [markdown]
# ## 1. Classification: softmax over [u; v; |u − v|]
#
# The classifier sees both vectors and their element-wise distance `|u − v|`: a linear layer on u and v
# alone could not compute how far apart they are. The paper's ablation (table 6) found this
# concatenation best. Six SICK pairs, two of each label, picked by label: SICK is two-thirds NEUTRAL, and
# the file's first six rows hold no CONTRADICTION.

# %%
examples = balanced(sick_classification("train", DATA_DIR), 2)
assert [e.label for e in examples] == [label for label in SICK_LABELS for _ in range(2)]
for e in examples:
    print(f"{e.label:13} | {e.a} | {e.b}")
labels = torch.tensor([SICK_LABELS.index(e.label) for e in examples])

torch.manual_seed(0)
objective = ClassificationObjective(ours, SICK_LABELS).eval()
st_loss_fn = SoftmaxLoss(st, st.get_embedding_dimension(), len(SICK_LABELS))
with torch.no_grad():
    # A head with weights of order 1 (as after training): nn.Linear's small initial weights on unit
    # vectors give near-zero gradients, and a comparison of near-zero numbers would prove little.
    objective.classifier.weight.normal_(0, 1); objective.classifier.bias.normal_(0, 1)
    st_loss_fn.classifier.weight.copy_(objective.classifier.weight)
    st_loss_fn.classifier.bias.copy_(objective.classifier.bias)

zero_grads()
u, v = embed([e.a for e in examples]), embed([e.b for e in examples])       # (6, H) each
features = torch.cat([u, v, (u - v).abs()], dim=1)                          # (6, 3H)
W, b = objective.classifier.weight, objective.classifier.bias               # (3, 3H), (3,)
logits = features @ W.T + b                                                 # (6, 3)
log_p = logits - logits.logsumexp(dim=1, keepdim=True)                      # log softmax
loss = -log_p[torch.arange(len(examples)), labels].mean()                   # cross-entropy
loss.backward()
st_loss = st_loss_fn([st.preprocess([e.a for e in examples]), st.preprocess([e.b for e in examples])], labels)
st_loss.backward()
print(f"W: {tuple(W.shape)}   loss by hand {loss.item():.6f}   minisbert {objective(examples).item():.6f}   "
      f"sentence-transformers {st_loss.item():.6f}")
assert abs(loss.item() - st_loss.item()) < TOL and abs(objective(examples).item() - loss.item()) < TOL
_ = compare_gradients()
assert (W.grad - st_loss_fn.classifier.weight.grad).abs().max() < TOL

# %% [markdown]
# ## 2. Regression: cosine similarity against the gold score
#
# `cos(u, v)` is what the vectors are compared with after training, so the model is trained on exactly that
# number. STSb scores (0–5) are scaled to [0, 1] where the data is read (`minisbert.examples`).
#
# This is also where we take **one full training step by hand**: forward, loss, backward, then move every
# weight against its gradient, `w ← w − η ∇w`, in both libraries. The two models must stay identical and
# the loss must go down.

# %%
examples = stsb_regression("train", DATA_DIR)[:8]
y = torch.tensor([e.label for e in examples])
zero_grads()
u, v = embed([e.a for e in examples]), embed([e.b for e in examples])
cos = (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1))                    # (8,)
loss = ((cos - y) ** 2).mean()
loss.backward()
features = [st.preprocess([e.a for e in examples]), st.preprocess([e.b for e in examples])]
st_loss = CosineSimilarityLoss(st)(features, y)
st_loss.backward()
print("gold  ", y)
print("cosine", cos.detach())
print(f"loss by hand {loss.item():.6f}   minisbert {RegressionObjective(ours)(examples).item():.6f}   "
      f"sentence-transformers {st_loss.item():.6f}")
assert abs(loss.item() - st_loss.item()) < TOL
_ = compare_gradients()

# %%
lr = 1e-3                                       # plain gradient descent, one step
with torch.no_grad():
    for name, p in ours_params.items():
        if p.grad is not None:
            p -= lr * p.grad
            st_params[name] -= lr * st_params[name].grad
    after = RegressionObjective(ours)(examples).item()
    st_after = CosineSimilarityLoss(st)(features, y).item()
weight_diff = max((p - st_params[n]).abs().max().item() for n, p in ours_params.items())
print(f"loss before {loss.item():.6f} -> after one step {after:.6f}  (sentence-transformers: {st_after:.6f})")
print(f"largest difference between the two models' weights after the step: {weight_diff:.1e}")
assert after < loss.item() and abs(after - st_after) < TOL and weight_diff < 1e-6

# %% [markdown]
# ## 3. Triplet: the anchor closer to the positive than to the negative, by a margin
#
# `max(‖a − p‖ − ‖a − n‖ + ε, 0)`: zero once the negative is at least ε farther from the anchor than the
# positive. The margin keeps the model from "solving" the task by putting every sentence on one point.
# The triplets come from SICK: a sentence, one it entails, one that contradicts it. (The models here are
# the ones after the step above — still identical in both libraries.)

# %%
triplets = sick_triplets("train", DATA_DIR)[:5]
print(triplets[0])
zero_grads()
a, p, n = (embed([getattr(t, f) for t in triplets]) for f in ("anchor", "positive", "negative"))
d_ap, d_an = (a - p).norm(dim=-1), (a - n).norm(dim=-1)
loss = torch.clamp(d_ap - d_an + 1.0, min=0).mean()
loss.backward()
st_loss = TripletLoss(st, triplet_margin=1.0)(                # the paper's ε = 1 (sentence-transformers' default is 5)
    [st.preprocess([getattr(t, f) for t in triplets]) for f in ("anchor", "positive", "negative")], None)
st_loss.backward()
print("‖a − p‖", d_ap.detach(), "\n‖a − n‖", d_an.detach())
print(f"loss by hand {loss.item():.6f}   minisbert {TripletObjective(ours)(triplets).item():.6f}   "
      f"sentence-transformers {st_loss.item():.6f}")
assert abs(loss.item() - st_loss.item()) < TOL and loss.item() > 0
_ = compare_gradients()

# %% [markdown]
# ## 4. A short real training run
#
# `minisbert.train.train` follows the paper's recipe (§3, "training details"): batches of 16, Adam with
# learning rate 2e-5 (AdamW with weight decay 0.01 here, as in BERT's fine-tuning), a linear warm-up over
# 10 % of the steps, dropout on. Here: the classification objective on **336 SICK
# training pairs, 112 of each label** (21 steps, one epoch; SICK is two-thirds NEUTRAL, and on the raw
# slice a short run only learns to answer NEUTRAL). The head is new, so it gets a larger learning rate
# (1e-2), and it reads the pooled vectors *before* L2 normalisation (normalised vectors have entries around
# 1/√384, on which a fresh head learns slowly). Accuracy is measured on 210 SICK test pairs, 70 of each
# label (chance: 33 %), before and after. A demonstration sized to run in well under a minute on two CPU
# cores, not a recipe for a good model.

# %% export="nb_loss_curve"
from minisbert.training import TrainConfig, train

model = SentenceBert.from_pretrained(MODEL_DIR)                       # fresh weights
torch.manual_seed(0)
objective = ClassificationObjective(model, SICK_LABELS, normalize=False)

train_examples = balanced(sick_classification("train", DATA_DIR), 112)    # 336 pairs
test_examples = balanced(sick_classification("test", DATA_DIR), 70)       # 210 pairs
before = objective.accuracy(test_examples)
t0 = time.perf_counter()
state = train(objective, train_examples, TrainConfig(epochs=1, batch_size=16, head_lr=1e-2, seed=0, progress=False))
seconds = time.perf_counter() - t0
after = objective.accuracy(test_examples)
print(f"{state.step} steps in {seconds:.1f} s; test accuracy {before:.1f}% -> {after:.1f}% on "
      f"{len(test_examples)} balanced pairs (chance 33.3%)")

losses = np.array(state.losses)
smooth = np.convolve(losses, np.ones(5) / 5, mode="valid")
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(np.arange(1, len(losses) + 1), losses, "o-", alpha=0.4, label="loss per batch")
ax.plot(np.arange(5, len(losses) + 1), smooth, lw=2, label="mean of the last 5")
ax.set_xlabel("step (batch of 16 SICK pairs)"); ax.set_ylabel("cross-entropy")
ax.set_xticks(range(0, len(losses) + 1, 5))
ax.set_title(f"Classification objective on SICK: test accuracy {before:.0f}% → {after:.0f}% (chance 33%)")
ax.legend()
fig.tight_layout()
plt.show()
assert losses[-5:].mean() < losses[:5].mean() and after > before + 10

# %% [markdown]
# ## Next
#
# You can now write any of the three objectives and train a sentence encoder with it.
#
# 1. Write exercises 8 `classification_loss`, 9 `regression_loss` and 10 `triplet_loss` in `exercises/` and
#    grade them: `python -m minisbert grade classification_loss regression_loss triplet_loss`. When one
#    passes, read the library's version beside yours.
# 2. Then open notebook [06 · cross-encoder against bi-encoder](06_cross_vs_bi_encoder.ipynb): what SBERT
#    saves.
