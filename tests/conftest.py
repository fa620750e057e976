"""Shared fixtures: the real pretrained folder (fetched if missing), the shared data folder, and the real
all-MiniLM-L6-v2 loaded once per test run.

Nothing here skips: CI fetches the weights through ``make test`` and has ../shared/data beside the
clone; a missing piece is a failing set-up, and the tests say so.

Two lanes:

- ``make test`` runs every test; it is what CI runs.
- ``make test-fast`` runs ``pytest -m "fast and not slow"``, in about a minute: the tiny random models,
  the tokenizer, pooling, objectives, similarity, metrics, checkpoint files, bad inputs. A test joins
  it with ``@pytest.mark.fast``, a parametrised case with ``pytest.param(..., marks=pytest.mark.fast)``,
  a whole module with ``pytestmark = pytest.mark.fast`` at its top; ``@pytest.mark.slow`` takes one
  test of such a module back out. Leave out of it what runs the real checkpoint on data, reads a whole
  data set, trains for more than a few steps, fuzzes, or starts a ``python -m minisbert`` process (each
  spends seconds importing torch).

The shared models (``real_sbert``, ``real_bert``, ``hf_bert``, ``st_model``) are loaded once per run
and used by many modules, so a test must leave them as it found them: a test that switches
``use_sdpa``, calls ``train()``, changes ``normalize`` or ``max_seq_length``, edits weights or leaves
gradients restores them in ``finally`` (or a fixture's teardown), or works on ``copy.deepcopy(model)``.
After every test, ``_shared_models_left_as_loaded`` compares each one with its state at load and fails
the test that changed it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def model_dir() -> Path:
    from minisbert.io.fetch import fetch

    return fetch("all-MiniLM-L6-v2", quiet=True)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("MINISBERT_DATA") or REPO.parent / "shared" / "data")
    assert (path / "stsbenchmark").is_dir() and (path / "sick").is_dir(), (
        f"the STS Benchmark and SICK data are not at {path}: set MINISBERT_DATA (make test does)"
    )
    return path


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module of small models (``pytest.mark.usefixtures("one_thread")``): a
    second one gains little there, and on a busy machine a thread pool waiting for a descheduled worker
    makes each step many times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------------------------------
# The real checkpoint, loaded once per run

class SharedModel:
    """A model shared by the whole run, and what it looked like when it was loaded.

    ``changes()`` lists what differs now: a module's public plain attribute (``training``, ``use_sdpa``,
    ``normalize``, ``max_seq_length``, ...; private ones are the libraries' own, some set on a first
    forward), a parameter's or buffer's values (an in-place write bumps its version counter; a tensor
    written back as it was counts as unchanged), ``requires_grad``, or a gradient left behind.
    """

    def __init__(self, model):
        self.model = model
        self.flags = self._flags()
        self.tensors = {name: (t._version, _digest(t), t.requires_grad) for name, t in self._tensors()}
        self.reported: set[str] = set()

    def _flags(self) -> dict:
        return {f"{name}.{key}".lstrip("."): value for name, module in self.model.named_modules()
                for key, value in vars(module).items()
                if not key.startswith("_") and isinstance(value, (bool, int, float, str))}

    def _tensors(self):
        return (*self.model.named_parameters(), *self.model.named_buffers())

    def changes(self) -> set[str]:
        changed = {f"{key} = {value!r}" for key, value in self._flags().items() if self.flags.get(key, ...) != value}
        for name, t in self._tensors():
            version, digest, requires_grad = self.tensors.get(name, (None, None, None))
            if t._version != version:
                if digest is not None and _digest(t) == digest:
                    self.tensors[name] = (t._version, digest, requires_grad)  # written back as it was
                else:
                    changed.add(f"{name} (values)")
            if t.requires_grad != requires_grad:
                changed.add(f"{name}.requires_grad")
            if t.grad is not None:
                changed.add(f"{name}.grad")
        return changed


def _digest(t) -> str:
    return hashlib.sha1(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()).hexdigest()


_SHARED: dict[str, SharedModel] = {}  # fixture name -> the model and its state at load


def _share(name: str, model):
    _SHARED[name] = SharedModel(model)
    return model


@pytest.fixture(scope="session")
def real_sbert(model_dir):
    """minisbert's SentenceBert on all-MiniLM-L6-v2 (mean pooling, normalised, eval mode)."""
    from minisbert import SentenceBert

    return _share("real_sbert", SentenceBert.from_pretrained(model_dir))


@pytest.fixture(scope="session")
def real_bert(real_sbert):
    """minisbert's BertModel on all-MiniLM-L6-v2: the encoder inside ``real_sbert``, the same object."""
    return real_sbert.bert


@pytest.fixture(scope="session")
def hf_bert(model_dir):
    """transformers' BertModel on the same folder, eager attention (it returns attention maps), eval mode."""
    import transformers

    hf = transformers.BertModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    return _share("hf_bert", hf)


@pytest.fixture(scope="session")
def st_model(model_dir):
    """sentence-transformers' SentenceTransformer on the same folder, in eval mode (it loads in train mode;
    its encode switches to eval, which would count as a change here)."""
    from sentence_transformers import SentenceTransformer

    return _share("st_model", SentenceTransformer(str(model_dir), device="cpu").eval())


@pytest.fixture(autouse=True)
def _shared_models_left_as_loaded():
    """Fails the test that changes a shared model and leaves it changed (only that one: a change already
    reported is not reported again by the tests after it)."""
    yield
    for name, shared in _SHARED.items():
        changed = shared.changes()
        new = sorted(changed - shared.reported)
        shared.reported = changed
        if new:
            more = f" and {len(new) - 5} more" if len(new) > 5 else ""
            pytest.fail(f"the test left the shared {name} changed: {', '.join(new[:5])}{more}; restore it in "
                        "finally, or work on copy.deepcopy(model)", pytrace=False)


@pytest.fixture
def killed_when():
    """``killed_when(command, path)``: start ``command``, SIGKILL it once ``path`` exists (a checkpoint written),
    and check that it really was killed mid-way rather than finished."""
    import signal
    import subprocess
    import time

    def run(command: list[str], path: Path, env: dict | None = None, timeout: float = 240) -> None:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + timeout
        while not path.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
        assert path.exists()

    return run


@pytest.fixture(scope="session")
def tiny_sbert_folder(model_dir, tmp_path_factory) -> Path:
    """A sentence-transformers folder holding a tiny random BERT (2 layers, H 32) with all-MiniLM-L6-v2's
    real vocabulary, mean pooling, normalised: real text in, seconds per run (commands, exports, torchrun)."""
    from minisbert import BertConfig, BertModel, SentenceBert
    from minisbert.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    config = BertConfig(vocab_size=len(tokenizer.vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny") / "tiny-sbert"
    SentenceBert(BertModel(config), tokenizer, normalize=True, max_seq_length=64).save(folder)
    return folder
