"""The pre-training heads against transformers' BertForPreTraining / BertForMaskedLM, in the same process.

Seeded tiny random models with odd sizes (so no dimension can be confused with another): logits, loss and
every gradient within 1e-5; folders saved by either library load in the other.
"""

import json

import pytest
import torch
import transformers

from minisbert import BertConfig, BertForMaskedLM, BertForPreTraining
from minisbert.io.weights import WeightsError, read_safetensors

pytestmark = pytest.mark.fast

TOL = 1e-5
ODD = dict(vocab_size=101, hidden_size=30, num_hidden_layers=3, num_attention_heads=5, intermediate_size=37,
           max_position_embeddings=23, type_vocab_size=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def hf_pair(cls_name: str, seed: int = 0, tie: bool = True):
    """A seeded random transformers model and ours holding its weights (loaded from its state dict)."""
    torch.manual_seed(seed)
    hf_cls = getattr(transformers, cls_name)
    hf = hf_cls(transformers.BertConfig(**ODD, tie_word_embeddings=tie)).eval()
    with torch.no_grad():  # random non-zero biases, so a missing or misplaced bias shows
        for name, p in hf.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.1)
    ours = {"BertForPreTraining": BertForPreTraining, "BertForMaskedLM": BertForMaskedLM}[cls_name](
        BertConfig(**ODD, tie_word_embeddings=tie)).eval()
    from minisbert.io.weights import load_state_strict
    load_state_strict(ours, hf.state_dict(), source="transformers", key_map=ours.checkpoint_key)
    return hf, ours


def batch(seed: int = 1, B: int = 3, T: int = 17):
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, ODD["vocab_size"], (B, T), generator=g)
    attention_mask = torch.ones(B, T, dtype=torch.long)
    attention_mask[1, 11:] = 0  # a padded row
    attention_mask[2, 5:] = 0
    token_type_ids = (torch.arange(T) >= 7).long().expand(B, T).contiguous()
    labels = torch.full((B, T), -100)
    chosen = torch.rand(B, T, generator=g) < 0.3
    chosen &= attention_mask.bool()
    labels[chosen] = torch.randint(0, ODD["vocab_size"], (int(chosen.sum()),), generator=g)
    nsp = torch.tensor([0, 1, 1])
    return input_ids, attention_mask, token_type_ids, labels, nsp


def grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def check_grads(hf, ours):
    g_hf, g_ours = grads(hf), grads(ours)
    if not ours.config.tie_word_embeddings:  # the bias transformers adds is then the decoder's own
        g_ours["cls.predictions.decoder.bias"] = g_ours.pop("cls.predictions.bias")
    assert set(g_ours) <= set(g_hf)
    assert len(g_ours) == len(list(ours.parameters()))
    for name, g in g_ours.items():
        assert (g - g_hf[name]).abs().max() <= TOL, name


@pytest.mark.parametrize("decode", ["all", "labelled"])
def test_pretraining_logits_loss_and_gradients_match_transformers(decode):
    hf, ours = hf_pair("BertForPreTraining")
    ids, mask, types, labels, nsp = batch()
    ref = hf(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels, next_sentence_label=nsp)
    out = ours(ids, mask, types, labels=labels, next_sentence_label=nsp, decode=decode)
    valid = mask.bool()
    if decode == "all":
        assert out.prediction_logits.shape == (3, 17, ODD["vocab_size"])
        assert (out.prediction_logits - ref.prediction_logits)[valid].abs().max() <= TOL
    else:  # only the labelled rows, in order
        assert out.prediction_logits.shape == (int((labels != -100).sum()), ODD["vocab_size"])
        assert (out.prediction_logits - ref.prediction_logits[labels != -100]).abs().max() <= TOL
    assert (out.seq_relationship_logits - ref.seq_relationship_logits).abs().max() <= TOL
    assert abs(out.loss.item() - ref.loss.item()) <= TOL
    ref.loss.backward()
    out.loss.backward()
    check_grads(hf, ours)


@pytest.mark.parametrize("decode", ["all", "labelled"])
def test_masked_lm_logits_loss_and_gradients_match_transformers(decode):
    hf, ours = hf_pair("BertForMaskedLM", seed=3)
    ids, mask, types, labels, _ = batch(seed=4)
    ref = hf(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels)
    out = ours(ids, mask, types, labels=labels, decode=decode)
    if decode == "all":
        assert (out.logits - ref.logits)[mask.bool()].abs().max() <= TOL
    assert out.seq_relationship_logits is None
    assert abs(out.loss.item() - ref.loss.item()) <= TOL
    ref.loss.backward()
    out.loss.backward()
    check_grads(hf, ours)


def test_the_decoder_is_tied_to_the_word_embeddings():
    model = BertForPreTraining(BertConfig(**ODD))
    keys = set(model.state_dict())
    assert "cls.predictions.bias" in keys and "cls.predictions.decoder.weight" not in keys
    with torch.no_grad():
        model.bert.embeddings.word_embeddings.weight[5] += 1.0
    h = torch.randn(2, ODD["hidden_size"])
    t = model.cls.predictions.transform(h)
    expected = t @ model.bert.embeddings.word_embeddings.weight.T + model.cls.predictions.bias
    assert torch.equal(model.cls.predictions(h), expected)


@pytest.mark.parametrize("cls_name", ["BertForPreTraining", "BertForMaskedLM"])
def test_untied_word_embeddings_logits_loss_and_gradients_match_transformers(cls_name):
    hf, ours = hf_pair(cls_name, seed=9, tie=False)
    assert "cls.predictions.decoder.weight" in dict(ours.named_parameters())
    assert hf.cls.predictions.decoder.weight.data_ptr() != hf.bert.embeddings.word_embeddings.weight.data_ptr()
    ids, mask, types, labels, nsp = batch(seed=10)
    extra = {"next_sentence_label": nsp} if cls_name == "BertForPreTraining" else {}
    ref = hf(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels, **extra)
    out = ours(ids, mask, types, labels=labels, **extra)
    ref_logits = ref.logits if cls_name == "BertForMaskedLM" else ref.prediction_logits
    assert (out.prediction_logits - ref_logits)[mask.bool()].abs().max() <= TOL
    assert abs(out.loss.item() - ref.loss.item()) <= TOL
    ref.loss.backward()
    out.loss.backward()
    check_grads(hf, ours)
    # The word embeddings now learn from the input side alone, the decoder from the output side alone.
    assert not torch.equal(ours.cls.predictions.decoder.weight, ours.bert.embeddings.word_embeddings.weight)


@pytest.mark.parametrize("cls_name", ["BertForPreTraining", "BertForMaskedLM"])
def test_an_untied_folder_loads_both_ways(tmp_path, cls_name):
    hf, ours = hf_pair(cls_name, seed=11, tie=False)
    ours.save_pretrained(tmp_path / "ours")
    assert json.loads((tmp_path / "ours" / "config.json").read_text())["tie_word_embeddings"] is False
    assert "cls.predictions.decoder.weight" in read_safetensors(tmp_path / "ours" / "model.safetensors")
    loaded, info = getattr(transformers, cls_name).from_pretrained(tmp_path / "ours", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    hf.save_pretrained(tmp_path / "hf")
    back = type(ours).from_pretrained(tmp_path / "hf")
    assert back.config.tie_word_embeddings is False
    ids, mask, types, _, _ = batch(seed=12)
    ref = hf(input_ids=ids, attention_mask=mask, token_type_ids=types)
    ref_logits = ref.logits if cls_name == "BertForMaskedLM" else ref.prediction_logits
    for model in (back, ours):
        assert (model(ids, mask, types).prediction_logits - ref_logits)[mask.bool()].abs().max() <= TOL
    again = loaded.eval()(input_ids=ids, attention_mask=mask, token_type_ids=types)
    assert ((again.logits if cls_name == "BertForMaskedLM" else again.prediction_logits) - ref_logits)[mask.bool()].abs().max() <= TOL


@pytest.mark.parametrize("cls_name", ["BertForPreTraining", "BertForMaskedLM"])
def test_a_folder_saved_by_minisbert_loads_in_transformers(tmp_path, cls_name):
    _, ours = hf_pair(cls_name, seed=5)
    ours.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == [cls_name]
    hf, info = getattr(transformers, cls_name).from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == set() or info["missing_keys"] == []
    assert not info["unexpected_keys"] and not info["mismatched_keys"]
    ids, mask, types, _, _ = batch(seed=6)
    ref = hf.eval()(input_ids=ids, attention_mask=mask, token_type_ids=types)
    out = ours(ids, mask, types)
    assert (out.prediction_logits - ref.logits if cls_name == "BertForMaskedLM" else
            out.prediction_logits - ref.prediction_logits)[mask.bool()].abs().max() <= TOL


@pytest.mark.parametrize("cls_name", ["BertForPreTraining", "BertForMaskedLM"])
def test_a_folder_saved_by_transformers_loads_in_minisbert(tmp_path, cls_name):
    hf, _ = hf_pair(cls_name, seed=7)
    hf.save_pretrained(tmp_path)
    ours = {"BertForPreTraining": BertForPreTraining, "BertForMaskedLM": BertForMaskedLM}[cls_name].from_pretrained(tmp_path)
    ids, mask, types, _, _ = batch(seed=8)
    ref = hf(input_ids=ids, attention_mask=mask, token_type_ids=types)
    out = ours(ids, mask, types)
    ref_logits = ref.logits if cls_name == "BertForMaskedLM" else ref.prediction_logits
    assert (out.prediction_logits - ref_logits)[mask.bool()].abs().max() <= TOL


def test_a_pretraining_folder_loads_as_a_masked_lm_and_as_a_bert_model(tmp_path):
    from minisbert import BertModel
    _, ours = hf_pair("BertForPreTraining", seed=9)
    ours.save_pretrained(tmp_path)
    mlm = BertForMaskedLM.from_pretrained(tmp_path)
    bert = BertModel.from_pretrained(tmp_path)
    ids, mask, types, _, _ = batch(seed=10)
    assert torch.equal(mlm(ids, mask, types).logits, ours(ids, mask, types).prediction_logits)
    assert torch.equal(bert(ids, mask, types).last_hidden_state, ours.bert(ids, mask, types).last_hidden_state)


def test_a_masked_lm_folder_loads_as_a_bert_model_without_a_pooler(tmp_path):
    # masked LM alone (--no-nsp) trains no pooler and saves none: BertModel loads the encoder, as transformers does
    from minisbert import BertModel
    _, mlm = hf_pair("BertForMaskedLM", seed=12)
    mlm.save_pretrained(tmp_path)
    bert = BertModel.from_pretrained(tmp_path)
    assert bert.pooler is None
    ids, mask, types, _, _ = batch(seed=13)
    want = transformers.BertModel.from_pretrained(str(tmp_path), add_pooling_layer=False).eval()(ids, mask, types)
    assert torch.allclose(bert(ids, mask, types).last_hidden_state, want.last_hidden_state, atol=1e-5)


def test_a_masked_lm_folder_lacks_what_pretraining_needs(tmp_path):
    _, mlm = hf_pair("BertForMaskedLM", seed=11)
    mlm.save_pretrained(tmp_path)
    assert "cls.seq_relationship.weight" not in read_safetensors(tmp_path / "model.safetensors")
    with pytest.raises(WeightsError, match="missing keys.*cls.seq_relationship"):
        BertForPreTraining.from_pretrained(tmp_path)


def test_tie_word_embeddings_must_be_a_bool():
    with pytest.raises(ValueError, match="BertConfig.tie_word_embeddings must be true or false, got 'no'"):
        BertConfig(**ODD, tie_word_embeddings="no")


def test_bad_labels_are_named():
    model = BertForPreTraining(BertConfig(**ODD))
    ids = torch.randint(0, 101, (2, 5))
    with pytest.raises(ValueError, match="labels must have shape"):
        model(ids, labels=torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 101\)"):
        model(ids, labels=torch.full((2, 5), 101))
    with pytest.raises(ValueError, match="decode='labelled' needs labels"):
        model(ids, decode="labelled")
    with pytest.raises(ValueError, match="next_sentence_label must lie"):
        model(ids, next_sentence_label=torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="no next-sentence head"):
        BertForMaskedLM(BertConfig(**ODD))(ids, next_sentence_label=torch.tensor([0, 1]))
