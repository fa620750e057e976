"""The SBERT objectives against sentence-transformers 6.2's losses, running in the same process.

For each objective: the same model weights (loaded by both libraries from one folder), the same
sentences, the same classifier weights; the loss and the gradient of every parameter must agree within
1e-5. Dropout is off (eval mode) in both, so the two forwards are the same function.

Two kinds of model: the real all-MiniLM-L6-v2 (unit-length vectors) for every objective, and a tiny
random BERT saved as a sentence-transformers folder (no normalisation) for the options: the u ∗ v
feature, cosine and Manhattan triplet distances.
"""

from __future__ import annotations

import math

import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import (
    CosineSimilarityLoss,
    SoftmaxLoss,
    TripletDistanceMetric,
    TripletLoss,
)

from minisbert import BertConfig, BertModel, SentenceBert
from minisbert.io.data import SICK_LABELS
from minisbert.examples import (
    PairExample,
    sick_classification,
    sick_regression,
    sick_triplets,
    stsb_regression,
)
from minisbert.objectives import ClassificationObjective, RegressionObjective, TripletObjective
from minisbert.tokenizer import BertTokenizer

TOL = 1e-5
ST_DISTANCES = {"euclidean": TripletDistanceMetric.EUCLIDEAN, "cosine": TripletDistanceMetric.COSINE,
                "manhattan": TripletDistanceMetric.MANHATTAN}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, model_dir):
    """A random 2-layer BERT (H = 32) with the real vocabulary, saved as a sentence-transformers folder."""
    torch.manual_seed(0)
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                        max_position_embeddings=64)
    sbert = SentenceBert(BertModel(config), BertTokenizer.from_pretrained(model_dir), pooling="mean",
                         normalize=False, max_seq_length=32)
    folder = tmp_path_factory.mktemp("tiny-sbert")
    sbert.save(folder)
    return folder


@pytest.fixture
def real_models(real_sbert, st_model):
    """The run's shared models (tests/conftest.py), both in eval mode; backward() leaves gradients on them,
    cleared after each test."""
    yield real_sbert, st_model
    zero_grads(real_sbert, st_model)


@pytest.fixture(scope="module")
def tiny_models(tiny_folder):
    return SentenceBert.from_pretrained(tiny_folder).eval(), SentenceTransformer(str(tiny_folder), device="cpu").eval()


def st_features(st, columns):
    return [st.preprocess(texts) for texts in columns]


def assert_same_loss_and_gradients(ours_loss, ours_objective, st_loss, st, extra_pairs=()):
    """Compare the two losses and every parameter's gradient (BERT's names; ST prefixes them with 0.model.)."""
    assert abs(ours_loss.item() - st_loss.item()) <= TOL, (ours_loss.item(), st_loss.item())
    ours_params = dict(ours_objective.model.bert.named_parameters())
    st_params = dict(st[0].model.named_parameters())
    assert set(ours_params) == set(st_params)
    compared = 0
    for name, p in ours_params.items():
        q = st_params[name]
        if p.grad is None or q.grad is None:
            # only the pooler (tanh(dense(h_CLS)), unused by mean pooling) gets no gradient
            assert p.grad is None and q.grad is None and name.startswith("pooler."), name
            continue
        diff = (p.grad - q.grad).abs().max().item()
        # 1e-5 absolute; relative for entries above 1 (float32 keeps ~7 significant digits, and a sum over
        # every token, like the token-type embedding's gradient, reaches tens with the Manhattan distance)
        scale = max(1.0, q.grad.abs().max().item())
        assert diff <= TOL * scale, f"gradient of {name}: max |Δ| = {diff:.2e}, largest entry {scale:.2e}"
        compared += 1
    assert compared == len(ours_params) - 2  # all but pooler.dense.{weight,bias}
    largest = max(p.grad.abs().max().item() for p in ours_params.values() if p.grad is not None)
    assert largest > 100 * TOL, f"gradients too small ({largest:.1e}) for the comparison to mean anything"
    for p, q in extra_pairs:  # the classifier head
        assert (p.grad - q.grad).abs().max().item() <= TOL * max(1.0, q.grad.abs().max().item())


def zero_grads(*modules):
    for m in modules:
        m.zero_grad(set_to_none=True)


# ----------------------------------------------------------------------------------------------------
# Parity with sentence-transformers


def classification_parity(ours, st, examples, concatenation, st_flags):
    zero_grads(ours, st)
    torch.manual_seed(1)
    objective = ClassificationObjective(ours, SICK_LABELS, concatenation).eval()
    st_loss_fn = SoftmaxLoss(st, st.get_embedding_dimension(), len(SICK_LABELS), **st_flags)
    with torch.no_grad():
        # Logits of order 1, as a trained head gives: nn.Linear's default init on unit-length vectors
        # gives logits near 0 and gradients so small that any comparison would pass.
        objective.classifier.weight.normal_(0.0, 1.0)
        objective.classifier.bias.normal_(0.0, 1.0)
        # the same classifier weights in both
        st_loss_fn.classifier.weight.copy_(objective.classifier.weight)
        st_loss_fn.classifier.bias.copy_(objective.classifier.bias)
    loss = objective(examples)
    loss.backward()
    labels = torch.tensor([SICK_LABELS.index(e.label) for e in examples])
    st_loss = st_loss_fn(st_features(st, [[e.a for e in examples], [e.b for e in examples]]), labels)
    st_loss.backward()
    assert_same_loss_and_gradients(loss, objective, st_loss, st,
                                   [(objective.classifier.weight, st_loss_fn.classifier.weight),
                                    (objective.classifier.bias, st_loss_fn.classifier.bias)])


def first_of_each_label(examples, k):
    """The first k examples of each label, in file order (SICK's first rows are nearly all NEUTRAL)."""
    return [e for label in SICK_LABELS for e in [x for x in examples if x.label == label][:k]]


def test_classification_matches_softmax_loss_real_model(real_models, data_dir):
    ours, st = real_models
    examples = first_of_each_label(sick_classification("train", data_dir), 2)
    assert sorted(e.label for e in examples) == sorted(SICK_LABELS * 2)  # two of each label
    classification_parity(ours, st, examples, ("u", "v", "|u-v|"), {})


@pytest.mark.fast
def test_classification_with_product_matches_softmax_loss_tiny(tiny_models, data_dir):
    ours, st = tiny_models
    examples = sick_classification("test", data_dir)[:5]
    classification_parity(ours, st, examples, ("u", "v", "|u-v|", "u*v"),
                          {"concatenation_sent_multiplication": True})


@pytest.mark.parametrize("which", ["real", pytest.param("tiny", marks=pytest.mark.fast)])
def test_regression_matches_cosine_similarity_loss(which, request, data_dir):
    ours, st = request.getfixturevalue(f"{which}_models")
    zero_grads(ours, st)
    examples = stsb_regression("train", data_dir)[:6]
    objective = RegressionObjective(ours).eval()
    loss = objective(examples)
    loss.backward()
    st_loss = CosineSimilarityLoss(st)(st_features(st, [[e.a for e in examples], [e.b for e in examples]]),
                                       torch.tensor([e.label for e in examples]))
    st_loss.backward()
    assert_same_loss_and_gradients(loss, objective, st_loss, st)


@pytest.mark.parametrize("which,distance", [("real", "euclidean")] + [
    pytest.param("tiny", distance, marks=pytest.mark.fast) for distance in ("euclidean", "cosine", "manhattan")])
def test_triplet_matches_triplet_loss(which, distance, request, data_dir):
    ours, st = request.getfixturevalue(f"{which}_models")
    zero_grads(ours, st)
    triplets = sick_triplets("train", data_dir)[:5]
    objective = TripletObjective(ours, distance=distance, margin=1.0).eval()
    loss = objective(triplets)
    loss.backward()
    assert loss.item() > 0  # some triplets active, so there are gradients to compare
    st_loss = TripletLoss(st, distance_metric=ST_DISTANCES[distance], triplet_margin=1.0)(
        st_features(st, [[t.anchor for t in triplets], [t.positive for t in triplets], [t.negative for t in triplets]]),
        None)
    st_loss.backward()
    assert_same_loss_and_gradients(loss, objective, st_loss, st)


# ----------------------------------------------------------------------------------------------------
# The maths on hand-made vectors (expected values derived by hand, not from our output)


@pytest.mark.fast
def test_regression_loss_by_hand(tiny_models):
    objective = RegressionObjective(tiny_models[0])
    u = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    v = torch.tensor([[0.0, 2.0], [2.0, 2.0]])  # cos = 0 and 1
    loss = objective.loss_from_embeddings(u, v, torch.tensor([0.5, 1.0]))
    assert loss.item() == pytest.approx((0.5 ** 2 + 0.0) / 2)


@pytest.mark.fast
def test_triplet_loss_by_hand(tiny_models):
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    p = torch.tensor([[3.0, 4.0], [1.0, 0.0]])  # ‖a − p‖ = 5 and 1
    n = torch.tensor([[0.0, 1.0], [0.0, 3.0]])  # ‖a − n‖ = 1 and 3
    euclid = TripletObjective(tiny_models[0]).loss_from_embeddings(a, p, n)
    assert euclid.item() == pytest.approx((max(5 - 1 + 1, 0) + max(1 - 3 + 1, 0)) / 2)  # (5 + 0) / 2
    manhattan = TripletObjective(tiny_models[0], "manhattan", margin=0.5).loss_from_embeddings(a, p, n)
    assert manhattan.item() == pytest.approx((max(7 - 1 + 0.5, 0) + max(1 - 3 + 0.5, 0)) / 2)


@pytest.mark.fast
def test_classification_features_by_hand(tiny_models):
    objective = ClassificationObjective(tiny_models[0], ["x", "y"], ("u", "v", "|u-v|", "u*v"))
    u, v = torch.tensor([[1.0, -2.0]]), torch.tensor([[3.0, 4.0]])
    assert objective.features(u, v).tolist() == [[1.0, -2.0, 3.0, 4.0, 2.0, 6.0, 3.0, -8.0]]
    with pytest.raises(ValueError, match="concatenation"):
        ClassificationObjective(tiny_models[0], ["x", "y"], ("u", "u-v"))
    with pytest.raises(ValueError, match="labels"):
        ClassificationObjective(tiny_models[0], ["x", "x"])
    with pytest.raises(ValueError, match="distance"):
        TripletObjective(tiny_models[0], "chebyshev")
    with pytest.raises(ValueError, match="margin"):
        TripletObjective(tiny_models[0], margin=math.nan)


# ----------------------------------------------------------------------------------------------------
# The head on disk and predict


@pytest.mark.fast
def test_head_round_trip_and_predict(tiny_folder, tmp_path, data_dir):
    model = SentenceBert.from_pretrained(tiny_folder)
    torch.manual_seed(3)
    objective = ClassificationObjective(model, SICK_LABELS, ("u", "v", "|u-v|", "u*v"), normalize=True)
    with torch.no_grad():
        objective.classifier.weight.normal_(0, 5.0)  # far from the default init, so a lost head shows
    objective.save_head(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {"head.safetensors", "head.json"}

    loaded = ClassificationObjective.load_head(SentenceBert.from_pretrained(tiny_folder), tmp_path)
    assert loaded.labels == list(SICK_LABELS) and loaded.concatenation == ["u", "v", "|u-v|", "u*v"]
    assert loaded.normalize is True
    assert torch.equal(loaded.classifier.weight, objective.classifier.weight)

    examples = sick_classification("test", data_dir)[:8]
    pairs = [(e.a, e.b) for e in examples]
    predicted = loaded.predict(pairs)
    assert predicted == objective.predict(pairs) and set(predicted) <= set(SICK_LABELS)
    # predict is the argmax of the head on the (normalised) vectors, computed here by hand
    u = torch.nn.functional.normalize(torch.as_tensor(model.encode([a for a, _ in pairs], normalize=False)), dim=-1)
    v = torch.nn.functional.normalize(torch.as_tensor(model.encode([b for _, b in pairs], normalize=False)), dim=-1)
    features = torch.cat([u, v, (u - v).abs(), u * v], dim=1)
    by_hand = (features @ objective.classifier.weight.T + objective.classifier.bias).argmax(dim=1)
    assert predicted == [SICK_LABELS[i] for i in by_hand.tolist()]


@pytest.mark.fast
def test_sick_examples_scaling_and_triplets(data_dir):
    """Scaling is stated where the data is read: STSb score / 5, SICK (score − 1) / 4."""
    from minisbert.io.data import load_sick, load_stsb

    raw = load_stsb("dev", data_dir)[:3]
    assert [e.label for e in stsb_regression("dev", data_dir)[:3]] == [p.score / 5 for p in raw]
    raw = load_sick("trial", data_dir)[:3]
    assert [e.label for e in sick_regression("dev", data_dir)[:3]] == [(p.relatedness - 1) / 4 for p in raw]
    labels = {(p.sentence_a, p.sentence_b): p.label for p in load_sick("train", data_dir)}
    triplets = sick_triplets("train", data_dir)
    assert len(triplets) > 100
    for t in triplets[:50]:
        assert labels[(t.anchor, t.positive)] == "ENTAILMENT"
        assert "CONTRADICTION" in (labels.get((t.anchor, t.negative)), labels.get((t.negative, t.anchor)))
    assert isinstance(sick_classification("test", data_dir)[0], PairExample)


@pytest.mark.fast
def test_fit_head_trains_only_the_head(tiny_models, data_dir):
    """The warm start: logistic regression on frozen vectors lowers the loss and leaves BERT untouched."""
    model = tiny_models[0]
    examples = sick_classification("train", data_dir)[:48]
    torch.manual_seed(0)
    objective = ClassificationObjective(model, SICK_LABELS, ("u", "v", "|u-v|", "u*v"))
    bert_before = {k: v.clone() for k, v in model.bert.state_dict().items()}
    head_before = objective.classifier.weight.detach().clone()
    losses = objective.fit_head(examples, epochs=30, lr=1e-2, batch_size=8)
    assert len(losses) == 30 and losses[-1] < 0.8 * losses[0]
    assert not torch.equal(objective.classifier.weight, head_before)
    assert all(torch.equal(model.bert.state_dict()[k], v) for k, v in bert_before.items())
    with pytest.raises(ValueError, match="not one of the labels"):
        objective.fit_head([PairExample("a", "b", "YES")])
