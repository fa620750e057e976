"""SimCSE as a recipe: in-batch negatives on (s, s) pairs with dropout on, from any list of sentences, and
`train --objective simcse --data corpus|snli|FILE` with its bad inputs (one line, exit code 2)."""

from __future__ import annotations

import pytest
import torch

from minisbert import SentenceBert
from minisbert.__main__ import main
from minisbert.examples import PairExample, corpus_sentences, simcse_pairs, snli_sentences, stsb_regression
from minisbert.io.data import DataError, load_snli, read_sentences
from minisbert.objectives import MultipleNegativesRankingObjective, _vectors
from minisbert.training import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def sentences(data_dir):
    """48 distinct STSb train sentences."""
    return list(dict.fromkeys(s for e in stsb_regression("train", data_dir)[:40] for s in (e.a, e.b)))[:48]


@pytest.mark.fast
def test_simcse_pairs_each_distinct_sentence_twice():
    pairs = simcse_pairs(["A dog runs.", "  ", "A cat sleeps.", "A dog runs.", "Rain."])
    assert pairs == [PairExample("A dog runs.", "A dog runs.", 1.0), PairExample("A cat sleeps.", "A cat sleeps.", 1.0),
                     PairExample("Rain.", "Rain.", 1.0)]
    with pytest.raises(ValueError, match="corpus holds 1 distinct sentence.*at least two"):
        simcse_pairs(["Rain.", "Rain."], name="corpus")
    with pytest.raises(ValueError, match="holds 0 distinct"):
        simcse_pairs([])
    with pytest.raises(TypeError, match="must be a list of str"):
        simcse_pairs("Rain. Snow.")
    with pytest.raises(TypeError, match=r"sentences\[1\] must be a str"):
        simcse_pairs(["Rain.", 3])


def test_the_two_views_differ_only_by_dropout(tiny_sbert_folder, sentences):
    model = SentenceBert.from_pretrained(tiny_sbert_folder)
    pairs = simcse_pairs(sentences[:8])
    columns = [[p.a for p in pairs], [p.b for p in pairs]]
    model.train()
    a, b = _vectors(model, columns)
    assert (a - b).abs().max().item() > 1e-3  # dropout on: two passes over the same sentence differ
    model.eval()
    a, b = _vectors(model, columns)
    assert torch.equal(a, b)  # dropout off: the same vector


def test_short_simcse_run_lowers_the_loss(tiny_sbert_folder, sentences):
    pairs = simcse_pairs(sentences)
    objective = MultipleNegativesRankingObjective(SentenceBert.from_pretrained(tiny_sbert_folder))
    with torch.no_grad():
        before = objective.eval()(pairs).item()
    state = train(objective, pairs, TrainConfig(epochs=4, batch_size=16, lr=1e-3, progress=False, seed=0))
    with torch.no_grad():
        after = objective.eval()(pairs).item()
    assert after < 0.8 * before, (before, after)
    assert len(state.losses) == 4 * 3


def test_sentence_sources(data_dir, tmp_path):
    snli = snli_sentences("train", data_dir)
    pairs = load_snli("train", data_dir)
    assert len(snli) == len(set(snli)) == len({p.premise for p in pairs} | {p.hypothesis for p in pairs})
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("CHAPTER I.\n\nIt was a dark night. The wind rose fast.\n\n"
                                               "It was a dark night. Snow fell on the town.\n", encoding="utf-8")
    assert corpus_sentences(tmp_path) == ["It was a dark night.", "The wind rose fast.", "Snow fell on the town."]


# ----------------------------------------------------------------------------------------------------
# The command and its bad inputs


def run_simcse(data: str, folder, out, data_dir) -> int:
    return main(["train", "--objective", "simcse", "--data", data, "--model", str(folder), "--out", str(out),
                 "--batch-size", "8", "--max-steps", "2", "--limit", "24", "--max-seq-length", "24",
                 "--data-dir", str(data_dir), "--no-progress"])


def test_cli_simcse_from_a_file_and_from_snli(tiny_sbert_folder, sentences, tmp_path, data_dir, capsys):
    path = tmp_path / "mine.txt"
    path.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    assert run_simcse(str(path), tiny_sbert_folder, tmp_path / "out1", data_dir) == 0
    printed = capsys.readouterr().out
    assert f"SimCSE on {path}: {len(sentences)} distinct sentences" in printed and "dev STSb Spearman" in printed
    assert (tmp_path / "out1" / "modules.json").is_file()
    assert run_simcse("snli", tiny_sbert_folder, tmp_path / "out2", data_dir) == 0
    assert f"SimCSE on snli: {len(snli_sentences('train', data_dir))} distinct sentences" in capsys.readouterr().out


@pytest.mark.parametrize("content,message", [
    (b"", "holds no sentence"),
    (b"\n  \n\n", "holds no sentence"),
    (b"A good sentence.\nBad \xff byte.\n", "line 2: not valid UTF-8"),
    (b"Only one sentence.\n", "holds 1 distinct sentence"),
    (b"Twice.\nTwice.\n", "holds 1 distinct sentence"),
])
def test_cli_bad_sentence_file_is_one_line_exit_2(content, message, tiny_sbert_folder, tmp_path, data_dir, capsys):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    assert run_simcse(str(path), tiny_sbert_folder, tmp_path / "out", data_dir) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("minisbert train: error:")
    assert not (tmp_path / "out").exists()


@pytest.mark.fast
def test_read_sentences_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a file"):
        read_sentences(tmp_path / "missing.txt")
    (tmp_path / "ok.txt").write_text("One.\r\n\r\nTwo.\n", encoding="utf-8")
    assert read_sentences(tmp_path / "ok.txt") == ["One.", "Two."]
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(DataError, match="empty.txt: holds no sentence"):
        read_sentences(tmp_path / "empty.txt")


def test_cli_simcse_refuses_no_dropout_and_a_missing_file(tiny_sbert_folder, tmp_path, data_dir, capsys):
    code = main(["train", "--objective", "simcse", "--data", "snli", "--model", str(tiny_sbert_folder),
                 "--out", str(tmp_path / "o"), "--no-dropout", "--data-dir", str(data_dir)])
    assert code == 2 and "dropout" in capsys.readouterr().err
    assert run_simcse(str(tmp_path / "nowhere.txt"), tiny_sbert_folder, tmp_path / "o", data_dir) == 2
    assert "nowhere.txt: not a file" in capsys.readouterr().err
