"""Golden tests: minisbert's BertModel against transformers' BertModel running in the same process.

A tiny random BERT always runs (fast, every code path); the real all-MiniLM-L6-v2 checkpoint checks the
numerics that matter at scale. The bar is 1e-5 max |Δ| at real (non-padded) positions, in eval mode,
for every hidden state, every attention map and the pooler, on both attention paths.
"""

from __future__ import annotations

import pytest
import torch
import transformers

from minisbert import BertConfig, BertModel

TOL = 1e-5


def hf_reference(folder):
    return transformers.BertModel.from_pretrained(str(folder), attn_implementation="eager").eval()


def assert_same_activations(ours: BertModel, hf, input_ids, attention_mask=None, token_type_ids=None):
    kwargs = {"attention_mask": attention_mask, "token_type_ids": token_type_ids}
    with torch.no_grad():
        a = ours(input_ids, **kwargs, output_hidden_states=True, output_attentions=True)
        b = hf(input_ids, **kwargs, output_hidden_states=True, output_attentions=True)
    real = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
    assert len(a.hidden_states) == len(b.hidden_states) == ours.config.num_hidden_layers + 1
    for i, (x, y) in enumerate(zip(a.hidden_states, b.hidden_states)):
        assert (x - y)[real].abs().max().item() <= TOL, f"hidden state {i}"
    assert (a.last_hidden_state - b.last_hidden_state)[real].abs().max().item() <= TOL
    assert len(a.attentions) == len(b.attentions) == ours.config.num_hidden_layers
    query_is_real = real[:, None, :, None]  # (B, 1, T, 1): rows of padded queries are not compared
    for i, (x, y) in enumerate(zip(a.attentions, b.attentions)):
        assert x.shape == y.shape
        assert ((x - y).abs() * query_is_real).max().item() <= TOL, f"attention {i}"
    assert (a.pooler_output - b.pooler_output).abs().max().item() <= TOL
    return a


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                                  intermediate_size=37, max_position_embeddings=64, type_vocab_size=2)
    model = transformers.BertModel(cfg)
    folder = tmp_path_factory.mktemp("tiny-bert")
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def tiny_inputs():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 99, (3, 17), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 11:] = 0  # padded rows of different lengths
    mask[2, 5:] = 0
    ids[mask == 0] = 0
    types = torch.zeros_like(ids)
    types[:, 9:] = 1  # a pair: segment B from position 9
    return ids, mask, types


@pytest.mark.fast
@pytest.mark.parametrize("use_sdpa", [False, True], ids=["plain", "sdpa"])
def test_tiny_random_bert_matches_hf(tiny_folder, use_sdpa):
    ours, hf = BertModel.from_pretrained(tiny_folder), hf_reference(tiny_folder)
    ours.use_sdpa = use_sdpa
    ids, mask, types = tiny_inputs()
    assert_same_activations(ours, hf, ids[:1])  # single sentence, defaults for mask and types
    assert_same_activations(ours, hf, ids, mask, types)  # padded batch of pairs


@pytest.mark.fast
def test_sdpa_path_equals_plain_path(tiny_folder):
    model = BertModel.from_pretrained(tiny_folder)
    ids, mask, types = tiny_inputs()
    with torch.no_grad():
        plain = model(ids, mask, types).last_hidden_state
        model.use_sdpa = True
        fast = model(ids, mask, types).last_hidden_state
    assert model.use_sdpa
    assert (plain - fast)[mask.bool()].abs().max().item() <= 1e-6


@pytest.mark.fast
def test_dropout_only_in_train_mode(tiny_folder):
    model = BertModel.from_pretrained(tiny_folder)
    ids, mask, types = tiny_inputs()
    with torch.no_grad():
        eval_a, eval_b = (model(ids, mask, types).last_hidden_state for _ in range(2))
        model.train()
        torch.manual_seed(0)
        train_a = model(ids, mask, types).last_hidden_state
        train_b = model(ids, mask, types).last_hidden_state
    assert torch.equal(eval_a, eval_b)
    assert not torch.allclose(train_a, train_b)  # a different dropout mask each call
    assert not torch.allclose(train_a, eval_a)


@pytest.mark.fast
def test_config_reads_checkpoint(tiny_folder):
    cfg = BertConfig.from_json(tiny_folder / "config.json")
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size) == (32, 3, 4, 37)
    assert cfg.layer_norm_eps == 1e-12 and cfg.head_size == 8


@pytest.fixture(scope="module")
def real_models(real_bert, hf_bert):
    """The run's shared models (tests/conftest.py): a test that changes one restores it in finally."""
    return real_bert, hf_bert


@pytest.fixture(scope="module")
def stsb_batch(model_dir, data_dir):
    lines = (data_dir / "stsbenchmark" / "sts-test.csv").read_text(encoding="utf-8").splitlines()[:24]
    sentences = [field for line in lines for field in line.split("\t")[5:7]]
    tok = transformers.BertTokenizer.from_pretrained(str(model_dir))
    return tok(sentences, padding=True, return_tensors="pt")


@pytest.mark.parametrize("use_sdpa", [False, True], ids=["plain", "sdpa"])
def test_real_checkpoint_matches_hf_on_stsb(real_models, stsb_batch, use_sdpa):
    ours, hf = real_models
    b = stsb_batch
    assert b["attention_mask"].eq(0).any(), "the batch should contain padding"
    had_sdpa = ours.use_sdpa
    ours.use_sdpa = use_sdpa
    try:
        assert_same_activations(ours, hf, b["input_ids"], b["attention_mask"], b["token_type_ids"])
    finally:
        ours.use_sdpa = had_sdpa


def test_real_checkpoint_matches_hf_at_512_tokens(real_models, model_dir):
    ours, hf = real_models
    tok = transformers.BertTokenizer.from_pretrained(str(model_dir))
    long_text = " ".join(["the quick brown fox jumps over the lazy dog near the riverbank"] * 60)
    pair = tok([long_text, "short"], [long_text, "also short"], padding=True, truncation=True,
               max_length=512, return_tensors="pt")
    assert pair["input_ids"].shape[1] == 512
    assert_same_activations(ours, hf, pair["input_ids"], pair["attention_mask"], pair["token_type_ids"])


@pytest.mark.fast
def test_inputs_past_512_positions_are_refused(real_bert):
    ours = real_bert
    with pytest.raises(ValueError, match="512 positions"):
        ours(torch.ones(1, 513, dtype=torch.long))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"input_ids": [[1, 2]]}, TypeError, "input_ids must be a torch.Tensor"),
        ({"input_ids": torch.ones(3, dtype=torch.long)}, ValueError, r"shape \(batch, seq_len\)"),
        ({"input_ids": torch.ones(1, 3)}, TypeError, "integer ids"),
        ({"input_ids": torch.full((1, 3), 30522)}, ValueError, r"\[0, 30522\)"),
        ({"input_ids": torch.ones(2, 3, dtype=torch.long), "attention_mask": torch.ones(2, 4)}, ValueError,
         "attention_mask shape"),
        ({"input_ids": torch.ones(1, 3, dtype=torch.long), "attention_mask": torch.full((1, 3), 2)}, ValueError,
         "only 0"),
        ({"input_ids": torch.ones(1, 3, dtype=torch.long), "token_type_ids": torch.full((1, 3), 2)}, ValueError,
         "token_type_ids must lie"),
    ],
)
@pytest.mark.fast
def test_bad_inputs_raise_clear_errors(real_bert, kwargs, error, message):
    ours = real_bert
    with pytest.raises(error, match=message):
        ours(**kwargs)


def test_bool_and_float_masks_give_the_same_result(real_models, stsb_batch):
    ours, _ = real_models
    ids, mask = stsb_batch["input_ids"][:4], stsb_batch["attention_mask"][:4]
    with torch.no_grad():
        outs = [ours(ids, m).last_hidden_state for m in (mask, mask.bool(), mask.float())]
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])
