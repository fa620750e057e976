"""Loading and saving checkpoints: name variants, strict checks, corrupt files, round trips."""

from __future__ import annotations

import json
import shutil
import struct

import pytest
import torch
import transformers
from safetensors.torch import save_file

from minisbert import BertConfig, BertModel, WeightsError
from minisbert.io.weights import canonical_key, load_model_weights, read_safetensors

pytestmark = pytest.mark.fast  # the whole module is in the fast lane (tests/conftest.py)


@pytest.fixture(scope="module")
def tiny_hf_pretraining(tmp_path_factory):
    """A tiny BERT saved with its pre-training heads: keys carry the 'bert.' prefix and 'cls.*' heads."""
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=24, max_position_embeddings=32)
    model = transformers.BertForPreTraining(cfg).eval()
    folder = tmp_path_factory.mktemp("tiny-pretraining")
    model.save_pretrained(folder, safe_serialization=True)
    return folder, model


@pytest.fixture
def tiny_folder(tiny_hf_pretraining, tmp_path):
    """A copy of the tiny checkpoint that a test may damage."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_hf_pretraining[0], folder)
    return folder


def state_of(folder):
    return read_safetensors(folder / "model.safetensors")


def rewrite(folder, tensors):
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "model.safetensors"))


def test_loads_checkpoint_with_heads_and_bert_prefix(tiny_hf_pretraining):
    folder, hf = tiny_hf_pretraining
    keys = set(state_of(folder))
    assert any(k.startswith("bert.") for k in keys) and any(k.startswith("cls.") for k in keys)
    ours = BertModel.from_pretrained(folder)
    ids = torch.randint(0, 50, (2, 9))
    with torch.no_grad():
        assert torch.allclose(ours(ids).last_hidden_state, hf.bert(ids).last_hidden_state, atol=1e-6)


def test_tensorflow_names_and_position_ids_buffer(tiny_folder):
    tensors = state_of(tiny_folder)
    renamed = {}
    for key, value in tensors.items():
        key = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        renamed[key] = value
    renamed["bert.embeddings.position_ids"] = torch.arange(32)[None]
    rewrite(tiny_folder, renamed)
    ours = BertModel.from_pretrained(tiny_folder)
    expected = tensors["bert.encoder.layer.1.output.LayerNorm.weight"]
    assert torch.equal(ours.encoder.layer[1].output.LayerNorm.weight, expected)


@pytest.mark.parametrize("key, mapped", [
    ("bert.encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.self.query.weight"),
    ("embeddings.LayerNorm.gamma", "embeddings.LayerNorm.weight"),
    ("bert.embeddings.LayerNorm.beta", "embeddings.LayerNorm.bias"),
    ("embeddings.position_ids", None),
    ("cls.predictions.bias", None),
    ("cls.seq_relationship.weight", None),
    ("classifier.weight", None),
    ("pooler.dense.weight", "pooler.dense.weight"),
])
def test_canonical_key(key, mapped):
    assert canonical_key(key) == mapped


def test_missing_key_is_named_and_model_untouched(tiny_folder):
    tensors = state_of(tiny_folder)
    del tensors["bert.encoder.layer.1.attention.self.key.bias"]
    rewrite(tiny_folder, tensors)
    fresh = BertModel(BertConfig.from_json(tiny_folder / "config.json"))
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    with pytest.raises(WeightsError, match=r"missing keys \(1\): encoder.layer.1.attention.self.key.bias"):
        load_model_weights(fresh, tiny_folder / "model.safetensors")
    assert all(torch.equal(before[k], v) for k, v in fresh.state_dict().items()), "a failed load changed the model"


def test_unexpected_key_is_named(tiny_folder):
    tensors = state_of(tiny_folder)
    tensors["bert.encoder.layer.1.attention.self.extra"] = torch.zeros(3)
    rewrite(tiny_folder, tensors)
    with pytest.raises(WeightsError, match=r"unexpected keys \(1\): encoder.layer.1.attention.self.extra"):
        BertModel.from_pretrained(tiny_folder)


def test_wrong_shape_is_named(tiny_folder):
    tensors = state_of(tiny_folder)
    tensors["bert.pooler.dense.weight"] = torch.zeros(16, 15)
    rewrite(tiny_folder, tensors)
    with pytest.raises(WeightsError, match=r"pooler.dense.weight: checkpoint \(16, 15\) vs model \(16, 16\)"):
        BertModel.from_pretrained(tiny_folder)


def test_config_that_disagrees_with_weights(tiny_folder):
    cfg = json.loads((tiny_folder / "config.json").read_text())
    cfg["intermediate_size"] = 40
    (tiny_folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match=r"intermediate.dense.weight: checkpoint \(24, 16\) vs model \(40, 16\)"):
        BertModel.from_pretrained(tiny_folder)


def test_truncated_file(tiny_folder):
    path = tiny_folder / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(WeightsError, match="model.safetensors"):
        BertModel.from_pretrained(tiny_folder)
    path.write_bytes(data[:5])
    with pytest.raises(WeightsError, match="truncated"):
        BertModel.from_pretrained(tiny_folder)


def header_and_data(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_raw(path, header, data):
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)


def test_header_declaring_an_enormous_length(tiny_folder):
    path = tiny_folder / "model.safetensors"
    raw = path.read_bytes()
    path.write_bytes(struct.pack("<Q", 2**62) + raw[8:])
    with pytest.raises(WeightsError, match=f"header declares {2**62} bytes"):
        BertModel.from_pretrained(tiny_folder)


def test_header_lying_about_offsets(tiny_folder):
    path = tiny_folder / "model.safetensors"
    header, data = header_and_data(path)
    name = "bert.pooler.dense.bias"
    begin, end = header[name]["data_offsets"]
    header[name]["data_offsets"] = [begin, end + 10**9]
    write_raw(path, header, data)
    with pytest.raises(WeightsError, match=f"tensor '{name}' claims bytes"):
        BertModel.from_pretrained(tiny_folder)


def test_header_size_disagreeing_with_shape(tiny_folder):
    path = tiny_folder / "model.safetensors"
    header, data = header_and_data(path)
    header["bert.pooler.dense.bias"]["shape"] = [17]
    write_raw(path, header, data)
    with pytest.raises(WeightsError, match="needs 68 bytes, header gives 64"):
        BertModel.from_pretrained(tiny_folder)


def test_unexpected_dtype(tiny_folder):
    path = tiny_folder / "model.safetensors"
    header, data = header_and_data(path)
    header["bert.pooler.dense.bias"]["dtype"] = "F8_E4M3X"
    write_raw(path, header, data)
    with pytest.raises(WeightsError, match="unsupported dtype 'F8_E4M3X'"):
        BertModel.from_pretrained(tiny_folder)


def test_garbage_header(tiny_folder):
    path = tiny_folder / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 6) + b"{nope}" + b"\0" * 10)
    with pytest.raises(WeightsError, match="not valid JSON"):
        BertModel.from_pretrained(tiny_folder)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        BertModel.from_pretrained(tmp_path / "no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        BertModel.from_pretrained(tmp_path / "empty")


def test_save_round_trip_loads_in_transformers(tiny_hf_pretraining, tmp_path):
    folder, hf = tiny_hf_pretraining
    ours = BertModel.from_pretrained(folder)
    ours.save_pretrained(tmp_path / "saved")
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == ["config.json", "model.safetensors"]
    again = BertModel.from_pretrained(tmp_path / "saved")
    theirs = transformers.BertModel.from_pretrained(str(tmp_path / "saved")).eval()
    ids = torch.randint(0, 50, (2, 7))
    with torch.no_grad():
        assert torch.equal(again(ids).last_hidden_state, ours(ids).last_hidden_state)
        assert torch.allclose(theirs(ids).last_hidden_state, hf.bert(ids).last_hidden_state, atol=1e-6)
