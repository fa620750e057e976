"""The three SBERT training objectives, and in-batch negatives after them, with the maths in plain sight.

Reimers & Gurevych 2019, "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks"
(https://arxiv.org/abs/1908.10084), section 3. Each objective runs the *same* SentenceBert on every
sentence of an example on its own (the siamese network), gets one vector per sentence, and turns the
vectors into a loss:

    classification   o = softmax(W · [u; v; |u − v|])              cross-entropy against the label
    regression       cos(u, v)                                      squared error against the gold score in [0, 1]
    triplet          max(‖a − p‖ − ‖a − n‖ + ε, 0)                  ε = 1, Euclidean distance

After the paper, ``MultipleNegativesRankingObjective`` (in-batch negatives, Henderson et al. 2017; with
(s, s) pairs and dropout it is SimCSE, Gao et al. 2021) scores each anchor against every positive of the
batch and takes cross-entropy with its own positive as the label.

Every objective is an ``nn.Module`` that holds the model (so ``objective.parameters()`` is everything
that trains), validates its examples before training starts (``check_examples``) and is called on a
list of examples: ``loss = objective(examples)``. The pure maths on the vectors is a separate method
(``loss_from_embeddings``) so that it can be read, and tested, on its own.

The losses, and the gradient of every parameter, equal those of sentence-transformers' ``SoftmaxLoss``,
``CosineSimilarityLoss`` and ``TripletLoss`` (``tests/test_objectives.py``), and of
``MultipleNegativesRankingLoss`` and ``MultipleNegativesSymmetricRankingLoss`` (``tests/test_mnrl.py``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_optional_bool, check_pairs, is_number
from .examples import PairExample, TripletExample, check_examples_list
from .io.files import read_json, write_json
from .io.weights import WeightsError, load_state_strict, read_safetensors, save_tensors
from .similarity import cos_sim, dot_score

#: The parts the classifier may concatenate (it concatenates the chosen ones in the order given).
FEATURES = ("u", "v", "|u-v|", "u*v")
HEAD_WEIGHTS = "head.safetensors"
HEAD_CONFIG = "head.json"


def _vectors(model, columns: list[list[str]], normalize: bool | None = None) -> list[torch.Tensor]:
    """One (B, H) tensor of sentence vectors per column of texts, with autograd.

    Each column is tokenized and run through BERT on its own (the siamese set-up: nothing of one
    sentence reaches another's vector), exactly what ``SentenceBert.forward`` does for two columns.
    With ``model.packed_training`` all columns go through BERT as one batch instead: still nothing
    crosses from one sentence to another (attention stays within a sentence), packing leaves no padding
    to share, and one forward and backward over 2B or 3B sentences is faster than two or three over B
    (larger matrix products, one word-embedding gradient instead of one per column).
    ``normalize=None`` follows the model; ``False`` takes the pooled vector before any L2 normalisation.
    """
    batches = [[t for texts in columns for t in texts]] if model.packed_training else columns
    out = []
    for texts in batches:
        batch = model.tokenize(texts)
        if normalize is None or normalize == model.normalize:
            out.append(model.embed(batch))  # (B, H)
        else:
            u = model._pooled(batch)  # (B, H), before normalisation
            out.append(F.normalize(u, p=2, dim=-1) if normalize else u)
    return list(out[0].split([len(texts) for texts in columns])) if model.packed_training else out


# ----------------------------------------------------------------------------------------------------
# Classification


class ClassificationObjective(nn.Module):
    """Softmax classifier on the pair of sentence vectors (SBERT section 3, "Classification Objective").

        features = [u; v; |u − v|]         (k · H,), k = number of parts (3 here)
        logits   = W · features + b        (num_labels,), W of shape (num_labels, k · H)
        loss     = cross_entropy(logits, label) = −log softmax(logits)[label]

    Why these parts: u and v alone would let the classifier only compare them through a linear map,
    which cannot express "how different are they" (a linear function of u and v cannot compute a
    distance); |u − v| gives it the element-wise distance directly, and is symmetric in u and v. The
    paper's ablation (table 6) found (u, v, |u − v|) best for NLI; u ∗ v (element-wise product,
    whose sum is the dot product) adds a similarity feature and is offered as an option.

    Unlike sentence-transformers' SoftmaxLoss, the head is kept: ``save_head``/``load_head`` write it
    next to the model (``head.safetensors`` + ``head.json`` with the label names and the parts) and
    ``predict`` returns label names.

    Args:
        model: the SentenceBert whose vectors are classified (it is trained with the head).
        labels: the label names; label i is logit i.
        concatenation: which of ``FEATURES`` make the classifier's input, in that order.
        normalize: use L2-normalised vectors as features; ``None`` follows the model. Normalised
            vectors have entries of size ~1/√H (0.05 for H = 384): a freshly initialised head then
            outputs almost constant logits and its gradient is small, so it learns slowly.
    """

    def __init__(self, model, labels: Sequence[str], concatenation: Sequence[str] = ("u", "v", "|u-v|"),
                 normalize: bool | None = None):
        super().__init__()
        labels = list(labels)
        if len(labels) < 2 or not all(isinstance(x, str) for x in labels) or len(set(labels)) != len(labels):
            raise ValueError(f"labels must be at least two distinct strings, got {labels!r}")
        concatenation = list(concatenation)
        if not concatenation or any(part not in FEATURES for part in concatenation) or len(set(concatenation)) != len(concatenation):
            raise ValueError(f"concatenation must list distinct parts among {FEATURES}, got {concatenation!r}")
        check_optional_bool(normalize, "normalize")
        self.model = model
        self.labels = labels
        self.concatenation = concatenation
        self.normalize = normalize
        # The only new parameters of SBERT's classification set-up; nn.Linear's default init.
        self.classifier = nn.Linear(len(concatenation) * model.dim, len(labels))  # W: (num_labels, k·H)

    @property
    def head_parameters(self) -> list[nn.Parameter]:
        """The parameters that are not the encoder's (trained with their own learning rate if asked)."""
        return list(self.classifier.parameters())

    def features(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """[u; v; |u − v|; u ∗ v] (the parts chosen), (B, H) each → (B, k · H)."""
        parts = {"u": lambda: u, "v": lambda: v, "|u-v|": lambda: torch.abs(u - v), "u*v": lambda: u * v}
        return torch.cat([parts[name]() for name in self.concatenation], dim=1)  # (B, k·H)

    def logits_from_embeddings(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(u, v))  # (B, num_labels)

    def loss_from_embeddings(self, u: torch.Tensor, v: torch.Tensor, label_ids: torch.Tensor) -> torch.Tensor:
        # cross_entropy takes the raw logits: it computes log-softmax itself, stably (log-sum-exp).
        return F.cross_entropy(self.logits_from_embeddings(u, v), label_ids)

    def label_ids(self, names: Sequence[str]) -> torch.Tensor:
        index = {name: i for i, name in enumerate(self.labels)}
        for i, name in enumerate(names):
            if name not in index:
                raise ValueError(f"labels[{i}] = {name!r} is not one of the objective's labels {self.labels}")
        return torch.tensor([index[name] for name in names], dtype=torch.long)

    def check_examples(self, examples, name: str = "examples") -> None:
        """Raise ValueError (naming the example) for anything that would fail or mislead mid-training."""
        check_examples_list(examples, PairExample, name)
        for i, ex in enumerate(examples):
            if not isinstance(ex.label, str) or ex.label not in self.labels:
                raise ValueError(f"{name}[{i}].label = {ex.label!r} is not one of the labels {self.labels}")

    def forward(self, examples: Sequence[PairExample]) -> torch.Tensor:
        u, v = _vectors(self.model, [[e.a for e in examples], [e.b for e in examples]], self.normalize)
        targets = self.label_ids([e.label for e in examples]).to(u.device)  # (B,)
        return self.loss_from_embeddings(u, v, targets)

    def fit_head(self, examples: Sequence[PairExample], epochs: int = 20, lr: float = 1e-3, batch_size: int = 16,
                 seed: int = 0) -> list[float]:
        """Train the head alone on frozen sentence vectors (a warm start before fine-tuning everything).

        Each distinct sentence is encoded once; then only W and b learn (multinomial logistic
        regression on the features), which takes seconds. Fine-tuning the whole network afterwards
        starts from a head that already classifies well, so the encoder's first gradients carry a
        useful signal instead of the noise of a random head (which would first pull the pretrained
        vectors around to fit it). Returns the mean loss of each epoch.
        """
        self.check_examples(examples, "examples")
        index = {s: i for i, s in enumerate(dict.fromkeys(s for e in examples for s in (e.a, e.b)))}
        vectors = self.model.encode(list(index), convert_to="torch", normalize=self.normalize)  # (S, H)
        u = vectors[[index[e.a] for e in examples]]  # (N, H)
        v = vectors[[index[e.b] for e in examples]]  # (N, H)
        with torch.no_grad():
            x = self.features(u, v).to(self.classifier.weight.device)  # (N, k·H), fixed from now on
        y = self.label_ids([e.label for e in examples]).to(x.device)  # (N,)
        optimizer = torch.optim.AdamW(self.classifier.parameters(), lr=lr)
        generator = torch.Generator().manual_seed(seed)
        history = []
        for _ in range(epochs):
            order, total = torch.randperm(len(y), generator=generator), 0.0
            for start in range(0, len(y), batch_size):
                rows = order[start:start + batch_size]
                loss = F.cross_entropy(self.classifier(x[rows]), y[rows])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(rows)
            history.append(total / len(y))
        return history

    # -- inference ------------------------------------------------------------------------------------

    @torch.no_grad()
    def predict_logits(self, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> torch.Tensor:
        """Logits (N, num_labels) for (a, b) pairs; column i is ``self.labels[i]``."""
        pairs = check_pairs(list(pairs))
        # encode() sorts by length, batches, and runs in eval mode without autograd.
        kw = dict(batch_size=batch_size, convert_to="torch", normalize=self.normalize)
        u = self.model.encode([a for a, _ in pairs], **kw)  # (N, H)
        v = self.model.encode([b for _, b in pairs], **kw)  # (N, H)
        return self.logits_from_embeddings(u, v.to(u.device))

    def predict(self, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> list[str]:
        """The most likely label name for each (a, b) pair."""
        return [self.labels[i] for i in self.predict_logits(pairs, batch_size).argmax(dim=1).tolist()]

    def accuracy(self, examples: Sequence[PairExample], batch_size: int = 32) -> float:
        """Percentage of ``examples`` whose predicted label is the gold one."""
        predicted = self.predict([(e.a, e.b) for e in examples], batch_size)
        return 100.0 * sum(p == e.label for p, e in zip(predicted, examples)) / len(examples)

    # -- the head on disk -----------------------------------------------------------------------------

    def save_head(self, folder: str | Path) -> None:
        """``head.safetensors`` (W, b) and ``head.json`` (labels, parts, normalisation) in ``folder``."""
        folder = Path(folder)
        save_tensors({"weight": self.classifier.weight, "bias": self.classifier.bias}, folder / HEAD_WEIGHTS)
        config = {"labels": self.labels, "concatenation": self.concatenation, "normalize": self.normalize,
                  "dim": self.model.dim}
        write_json(folder / HEAD_CONFIG, config)

    @classmethod
    def load_head(cls, model, folder: str | Path) -> "ClassificationObjective":
        """The objective with the head saved in ``folder`` (by ``save_head``) on top of ``model``."""
        folder = Path(folder)
        path = folder / HEAD_CONFIG
        if not path.is_file():
            raise FileNotFoundError(f"no classifier head in {folder}: {HEAD_CONFIG} is missing")
        config = read_json(path)
        if config.get("dim") != model.dim:
            raise WeightsError(f"{path}: the head was trained on {config.get('dim')}-dimensional vectors, "
                               f"the model gives {model.dim}")
        objective = cls(model, config["labels"], config["concatenation"], config.get("normalize"))
        tensors = read_safetensors(folder / HEAD_WEIGHTS)
        load_state_strict(objective.classifier, tensors, source=str(folder / HEAD_WEIGHTS), key_map=lambda k: k)
        return objective


# ----------------------------------------------------------------------------------------------------
# Regression


class RegressionObjective(nn.Module):
    """Cosine similarity against a gold score (SBERT section 3, "Regression Objective").

        loss = mean over the batch of (cos(u, v) − y)²,   y = gold score scaled to [0, 1]

    cos(u, v) lies in [−1, 1], and it is what the trained vectors are compared with afterwards, so the
    model is trained on exactly the number it will be used for. The gold scores are scaled to [0, 1]
    where the data is read (STSb: score / 5, SICK: (score − 1) / 4, see ``minisbert/examples.py``): a
    gold 0–5 target could never be reached by a cosine and the squared error would be dominated by the
    impossible part. ``check_examples`` refuses scores outside [0, 1] to catch a forgotten scaling.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    @property
    def head_parameters(self) -> list[nn.Parameter]:
        return []  # no parameters besides the encoder's

    def loss_from_embeddings(self, u: torch.Tensor, v: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        cos = F.cosine_similarity(u, v, dim=-1)  # (B,): u·v / (‖u‖ ‖v‖)
        return F.mse_loss(cos, scores)

    def check_examples(self, examples, name: str = "examples") -> None:
        check_examples_list(examples, PairExample, name)
        for i, ex in enumerate(examples):
            y = ex.label
            if not is_number(y) or not math.isfinite(y):
                raise ValueError(f"{name}[{i}].label = {y!r} must be a finite number (the gold score)")
            if not 0.0 <= y <= 1.0:
                raise ValueError(f"{name}[{i}].label = {y!r} is outside [0, 1]: scale gold scores first "
                                 f"(STSb: score / 5, SICK: (score - 1) / 4)")

    def forward(self, examples: Sequence[PairExample]) -> torch.Tensor:
        u, v = _vectors(self.model, [[e.a for e in examples], [e.b for e in examples]])
        scores = torch.tensor([float(e.label) for e in examples], dtype=u.dtype, device=u.device)  # (B,)
        return self.loss_from_embeddings(u, v, scores)


# ----------------------------------------------------------------------------------------------------
# Triplet


def euclidean_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(x - y, dim=-1)  # (B,): ‖x − y‖₂


def manhattan_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.abs(x - y).sum(dim=-1)  # (B,): ‖x − y‖₁


def cosine_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 1 - (F.normalize(x, dim=-1) * F.normalize(y, dim=-1)).sum(dim=-1)  # (B,): 1 − cos, in [0, 2]


DISTANCES = {"euclidean": euclidean_distance, "cosine": cosine_distance, "manhattan": manhattan_distance}


class TripletObjective(nn.Module):
    """Anchor closer to the positive than to the negative, by a margin (SBERT section 3, "Triplet Objective").

        loss = mean over the batch of max(d(a, p) − d(a, n) + ε, 0)

    A triplet stops contributing once the negative is at least ε farther from the anchor than the
    positive is: the margin is what keeps the model from satisfying the objective by collapsing every
    vector onto one point (then d(a, p) = d(a, n) and the loss is still ε). The paper uses the
    Euclidean distance and ε = 1, the defaults here (sentence-transformers' default is 5). Note the
    scale: unit-length vectors (all-MiniLM-L6-v2 normalises) are at most 2 apart, so with ε = 1 most
    triplets stay active and the loss keeps pulling positives in and pushing negatives away.
    """

    def __init__(self, model, distance: str = "euclidean", margin: float = 1.0):
        super().__init__()
        if distance not in DISTANCES:
            raise ValueError(f"unknown distance {distance!r}; choose one of {', '.join(DISTANCES)}")
        if not is_number(margin) or not math.isfinite(margin) or margin < 0:
            raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
        self.model = model
        self.distance = distance
        self.margin = float(margin)

    @property
    def head_parameters(self) -> list[nn.Parameter]:
        return []  # no parameters besides the encoder's

    def loss_from_embeddings(self, a: torch.Tensor, p: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        d = DISTANCES[self.distance]
        return F.relu(d(a, p) - d(a, n) + self.margin).mean()  # relu(x) = max(x, 0)

    def check_examples(self, examples, name: str = "examples") -> None:
        check_examples_list(examples, TripletExample, name)

    def forward(self, examples: Sequence[TripletExample]) -> torch.Tensor:
        a, p, n = _vectors(self.model, [[e.anchor for e in examples], [e.positive for e in examples],
                                        [e.negative for e in examples]])
        return self.loss_from_embeddings(a, p, n)


# ----------------------------------------------------------------------------------------------------
# In-batch negatives (after the paper)


#: Every row against every row, (N, H) and (M, H) → (N, M) (``minisbert/similarity.py``).
SIMILARITIES = {"cosine": cos_sim, "dot": dot_score}


class MultipleNegativesRankingObjective(nn.Module):
    """Pick the right positive among the whole batch: in-batch negatives (Henderson et al. 2017).

    "Efficient Natural Language Response Suggestion for Smart Reply" (https://arxiv.org/abs/1705.00652),
    section 4.4; sentence-transformers' ``MultipleNegativesRankingLoss``. For a batch of B rows
    (anchor aᵢ, positive pᵢ[, hard negative nᵢ]):

        candidates = [p₁ … p_B; n₁ … n_B]                  (2B, H), or (B, H) without negatives
        scores     = scale · cos(aᵢ, candidate_j)          (B, 2B)
        loss       = cross_entropy(scores, labels = [0, 1, …, B − 1])

    Row i is a classification over every candidate of the batch whose right answer is its own positive,
    column i, on the diagonal. Every other row's positive (and every hard negative) is a free negative:
    a batch of B rows gives each anchor B − 1 negatives without any labelling, which is why larger
    batches help. A hard negative (NLI: a contradiction of the anchor) is a negative that looks close
    and is wrong, the most informative kind.

    ``scale`` is an inverse temperature: cosines lie in [−1, 1], and a softmax over numbers that close
    is almost flat, so they are stretched by 20 (temperature 0.05, SimCSE's choice) before it.
    ``symmetric=True`` adds the other direction, each positive picking its anchor among all anchors
    (sentence-transformers' ``MultipleNegativesSymmetricRankingLoss``), and averages the two losses.

    SimCSE (Gao, Yao & Chen 2021, https://arxiv.org/abs/2104.08821) is this objective on (s, s) pairs
    with dropout on: the two passes over s differ only by their dropout masks, and the other sentences of
    the batch are the negatives (``simcse_pairs`` in ``minisbert/examples.py``). With NLI triplets it is
    their supervised variant.

    A duplicate text inside a batch would be a false negative (the "right" positive appears again as a
    wrong one), so ``train`` builds batches without duplicates for this objective
    (``in_batch_negatives`` below; ``no_duplicate_batches`` in ``minisbert/training.py``).

    Args:
        model: the SentenceBert to train.
        scale: the factor on the similarities before the softmax (20).
        similarity: "cosine" (default) or "dot" (then the scale is usually 1).
        symmetric: also the positives-to-anchors direction, the two losses averaged.
    """

    in_batch_negatives = True  # train() keeps duplicate texts out of a batch for this objective

    def __init__(self, model, scale: float = 20.0, similarity: str = "cosine", symmetric: bool = False):
        super().__init__()
        if not is_number(scale) or not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
        if similarity not in SIMILARITIES:
            raise ValueError(f"unknown similarity {similarity!r}; choose one of {', '.join(SIMILARITIES)}")
        if not isinstance(symmetric, bool):
            raise ValueError(f"symmetric must be True or False, got {symmetric!r}")
        self.model = model
        self.scale = float(scale)
        self.similarity = similarity
        self.symmetric = symmetric

    @property
    def head_parameters(self) -> list[nn.Parameter]:
        return []  # no parameters besides the encoder's

    def loss_from_embeddings(self, a: torch.Tensor, p: torch.Tensor, n: torch.Tensor | None = None) -> torch.Tensor:
        if a.shape[0] < 2:
            raise ValueError("a batch of one row has no in-batch negatives (the other rows' positives are "
                             "the negatives): use at least two rows")
        sim = SIMILARITIES[self.similarity]
        candidates = p if n is None else torch.cat([p, n], dim=0)  # (B, H) or (2B, H)
        scores = self.scale * sim(a, candidates)  # (B, B) or (B, 2B)
        labels = torch.arange(a.shape[0], device=a.device)  # row i's answer is column i, its own positive
        loss = F.cross_entropy(scores, labels)
        if self.symmetric:
            # Each positive picks its anchor among all anchors (hard negatives take no part here).
            backward = F.cross_entropy(self.scale * sim(p, a), labels)  # (B, B)
            loss = (loss + backward) / 2
        return loss

    def check_examples(self, examples, name: str = "examples") -> None:
        """All PairExample (anchor = a, positive = b; the label is not used) or all TripletExample."""
        triplets = isinstance(examples, (list, tuple)) and examples and isinstance(examples[0], TripletExample)
        check_examples_list(examples, TripletExample if triplets else PairExample, name)
        if len(examples) < 2:
            raise ValueError(f"{name} holds one example: in-batch negatives need at least two (each row's "
                             f"negatives are the other rows' positives)")
        if len({_positive(e) for e in examples}) == 1:
            raise ValueError(f"{name}: every example has the same positive {_positive(examples[0])!r}, so "
                             f"every in-batch negative would be the positive itself")

    def forward(self, examples: Sequence[PairExample | TripletExample]) -> torch.Tensor:
        if len(examples) < 2:
            raise ValueError("a batch of one example has no in-batch negatives (the other rows' positives are "
                             "the negatives): use a batch size of at least 2")
        if len({_positive(e) for e in examples}) == 1:
            raise ValueError(f"all {len(examples)} rows of the batch hold the same sentence "
                             f"{_positive(examples[0])!r}: every in-batch negative would be the positive itself")
        if isinstance(examples[0], TripletExample):
            columns = [[e.anchor for e in examples], [e.positive for e in examples], [e.negative for e in examples]]
        else:
            columns = [[e.a for e in examples], [e.b for e in examples]]
        return self.loss_from_embeddings(*_vectors(self.model, columns))


def _positive(example) -> str:
    return example.positive if isinstance(example, TripletExample) else example.b
