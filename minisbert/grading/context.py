"""What the checks run on: the real model (all-MiniLM-L6-v2), its tokenizer and vocabulary, and sentence
pairs of the STS Benchmark test split (or eight built-in pairs when the data is not found), loaded once
per grading run, in the grader's process, on first use."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..io.data import load_stsb
from ..io.weights import resolve_model_dir
from ..sbert import SentenceBert
from ..tokenizer import BertTokenizer

MODEL = "all-MiniLM-L6-v2"

_BUILT_IN_PAIRS = [  # used when the STS Benchmark is not found (the score is a made-up similarity in [0, 1])
    ("A man is playing a guitar.", "A man plays the guitar.", 0.95),
    ("A woman is slicing an onion.", "Someone is cutting an onion into pieces.", 0.8),
    ("Three dogs run across a snowy field.", "The stock market fell sharply on Monday.", 0.0),
    ("Kids are playing football in the park.", "Children play soccer outside.", 0.85),
    ("The cat sleeps.", "A cat is sleeping on the sofa next to the window in the afternoon sun.", 0.6),
    ("He didn't finish the report, did he?", "The report was finished on time.", 0.3),
    ("Prices rose 3.5% in May.", "Inflation went up in May.", 0.7),
    ("A plane is taking off.", "An air plane is taking off.", 1.0),
]


class Context:
    """The real model, tokenizer, vocabulary and sentences, loaded once per process on first use.

    ``model``: a model folder or fetched name, or a loaded ``SentenceBert`` (used as it is, never changed).
    """

    def __init__(self, model=MODEL):
        self._cache: dict[str, object] = {}
        if isinstance(model, (str, Path)):
            self.model_name = str(model)
        else:
            self.model_name, self._cache["sbert"] = "the given model", model

    def _get(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def sbert(self):
        return self._get("sbert", lambda: SentenceBert.from_pretrained(self.model_name).eval())

    @property
    def bert(self):
        return self.sbert.bert

    @property
    def tokenizer(self):
        if "sbert" in self._cache:
            return self.sbert.tokenizer
        # The tokenizer exercises need only vocab.txt: no need to load the weights for them.
        return self._get("tokenizer", lambda: BertTokenizer.from_pretrained(resolve_model_dir(self.model_name)))

    @property
    def vocab(self) -> frozenset[str]:
        return self._get("vocab", lambda: frozenset(self.tokenizer.vocab))

    @property
    def pairs(self) -> list[tuple[str, str, float]]:
        """16 sentence pairs with a similarity in [0, 1]: STS Benchmark test when found, else built in."""
        return self._get("pairs", self._load_pairs)

    def _load_pairs(self):
        try:
            stsb = load_stsb("test")
        except (FileNotFoundError, ValueError):
            self._cache["data"] = "built-in sentences: the STS Benchmark was not found"
            return list(_BUILT_IN_PAIRS)
        self._cache["data"] = "STS Benchmark test"
        # Every 50th pair: a spread of genres, lengths and scores.
        return [(p.sentence1, p.sentence2, p.score / 5) for p in stsb[::50][:16]]

    @property
    def data(self) -> str:
        self.pairs
        return str(self._cache["data"])

    @property
    def sentences(self) -> list[str]:
        return list(dict.fromkeys(s for a, b, _ in self.pairs for s in (a, b)))

    def batch(self, n: int = 8, pairs: bool = False) -> dict[str, torch.Tensor]:
        """A padded batch of ``n`` sentences (or sentence pairs, with token types 0 and 1)."""
        a = [p[0] for p in self.pairs[:n]]
        b = [p[1] for p in self.pairs[:n]] if pairs else None
        return dict(self.tokenizer(a, b, padding=True, truncation=True, max_length=128))

    def hidden(self, layer: int, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
        """The input of encoder layer ``layer`` (B, T, H) on a padded batch, and its mask (B, T)."""
        def make():
            batch = self.batch(n)
            with torch.no_grad():
                out = self.bert(batch["input_ids"], batch["attention_mask"], output_hidden_states=True)
            return out.hidden_states, batch["attention_mask"]
        states, mask = self._get(("hidden", n), make)
        return states[layer], mask

    def sentence_vectors(self, normalize: bool) -> torch.Tensor:
        """(2 · 16, H) mean-pooled vectors of the pairs' sentences, a then b, pair by pair."""
        def make():
            texts = [s for a, b, _ in self.pairs for s in (a, b)]
            return self.sbert.encode(texts, convert_to="torch", normalize=False, progress=False)
        u = self._get("vectors", make)
        return F.normalize(u, dim=-1) if normalize else u

