"""The library stands apart from the lab: ``minisbert`` never needs the reference libraries.

transformers and sentence-transformers are test and benchmark dependencies. Inside ``minisbert/`` they
are imported only where a comparison is the point (``trace``); everything a user runs (loading a model,
``encode``, training, a cross-encoder's ``predict``, the command line's set-up) works without them.
Harnesses that compare against them live in ``benchmarks/`` and ``experiments/``, outside the package.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "minisbert"
REFERENCES = ("transformers", "sentence_transformers")
COMPARISONS = {"trace.py"}  # the layer-by-layer diff against transformers: comparing is its purpose


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module a file imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_comparison_modules_import_the_reference_libraries():
    offenders = {str(path.relative_to(REPO)): sorted(imported_modules(path) & set(REFERENCES))
                 for path in sorted(PACKAGE.rglob("*.py")) if path.name not in COMPARISONS}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_library_never_imports_the_harnesses():
    # benchmarks/ and experiments/ are not installed: the package must not need them (the `bench` and
    # `cost` commands reach benchmarks/ only through register_harness, in a source checkout).
    offenders = {str(path.relative_to(REPO)): sorted(imported_modules(path) & {"benchmarks", "experiments"})
                 for path in sorted(PACKAGE.rglob("*.py"))}
    assert {path: names for path, names in offenders.items() if names} == {}


# Run in a fresh interpreter: in the test process, other tests have long since imported transformers.
USE_THE_LIBRARY = r"""
import json, sys, tempfile
from pathlib import Path

import torch

from minisbert import BertConfig, BertModel, SentenceBert
from minisbert.__main__ import build_parser
from minisbert.cross_encoder import CrossEncoder
from minisbert.examples import PairExample
from minisbert.objectives import RegressionObjective
from minisbert.tokenizer import BertTokenizer
from minisbert.training import TrainConfig, train

torch.set_num_threads(1)
model_dir = Path(sys.argv[1])

# encode with the pretrained model: folder reading, safetensors loading, the fast path, deduplication
sbert = SentenceBert.from_pretrained(model_dir)
vectors = sbert.encode(["A man is playing a guitar.", "Someone plays an instrument.", "A man is playing a guitar."],
                       progress=False)
assert vectors.shape == (3, 384), vectors.shape

# train: two steps of the regression objective on a tiny random model, saved at the end
tokenizer = BertTokenizer.from_pretrained(model_dir)
config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                    max_position_embeddings=64)
torch.manual_seed(0)
tiny = SentenceBert(BertModel(config), tokenizer, pooling="mean", normalize=False, max_seq_length=32)
examples = [PairExample(f"sentence {i}", f"another sentence {i}", i / 8) for i in range(8)]
with tempfile.TemporaryDirectory() as tmp:
    state = train(RegressionObjective(tiny), examples, TrainConfig(batch_size=4, lr=1e-3, progress=False),
                  out=Path(tmp) / "tiny")
assert state.step == 2, state.step

# predict with a cross-encoder
cross = CrossEncoder(BertModel(config), tokenizer)
scores = cross.predict([("A man is playing a guitar.", "Someone plays an instrument."), ("Hi", "Hello")],
                       progress=False)
assert scores.shape == (2,), scores.shape

build_parser()  # every command registered, the bench and cost entries into benchmarks/ included

print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {references!r})))
"""


def test_encode_train_and_predict_never_load_the_reference_libraries(model_dir, tmp_path):
    script = USE_THE_LIBRARY.replace("{references!r}", repr(set(REFERENCES)))
    done = subprocess.run([sys.executable, "-c", script, str(model_dir)], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == [], f"the library loaded {', '.join(loaded)}"
