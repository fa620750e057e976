"""Instructor mode on a class: nested and mis-cased submissions, a hang, a flood, an allocation without
end, catalogued mistakes; the CSV, the points CSV, the JSON and the feedback pages agree. And the student's
``--json -`` for an autograder, and the GitHub Classroom ``autograding.json`` in exercises/README.md.

``make_class`` builds the class; run with more students and all twelve exercises it is the measured
instructor run of docs/teaching.md.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from minisbert import grading as grade
from minisbert.__main__ import main

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = Path(__file__).resolve().parent / "grade_solutions"

# Catalogued mistakes as a student would hand them in: the reference file with one function replaced.
MISTAKES = {
    "pooling": "def mean_pool(token_embeddings, attention_mask):\n    return token_embeddings.mean(dim=1)\n",
    "triplet_loss": ("def triplet_loss(a, p, n, margin):\n"
                     "    return torch.relu((a - p).pow(2).sum(-1) - (a - n).pow(2).sum(-1) + margin).mean()\n"),
    "regression_loss": "def regression_loss(u, v, scores):\n    return ((u * v).sum(-1) - scores).pow(2).mean()\n",
    "wordpiece": ("_right = wordpiece\n\ndef wordpiece(word, vocab):\n"
                  "    return ['[UNK]'] if len(word) >= 100 else _right(word, vocab)\n"),
    "basic_tokenize": ('!= "Mn").lower()', '!= "Mn")'),  # the reference with its lower() taken out
    "attention_head": ("import math\n\ndef attention_head(x, wq, bq, wk, bk, wv, bv, mask):\n"
                       "    q, k, v = x @ wq.T + bq, x @ wk.T + bk, x @ wv.T + bv\n"
                       "    scores = (q @ k.transpose(-2, -1)).masked_fill(mask[:, None, :] == 0, -1e9)\n"
                       "    return scores.softmax(-1) @ v\n"),
}
HANG = "\ndef basic_tokenize(text):\n    while True:\n        pass\n"
FLOOD = "\nimport sys\n_right = wordpiece\n\ndef wordpiece(word, vocab):\n    sys.stderr.write('x' * (1 << 20))\n    return _right(word, vocab)\n"
HOG = "\nimport torch\n\ndef triplet_loss(a, p, n, margin):\n    chunks = []\n    while True:\n        chunks.append(torch.ones(1 << 28))\n"


def make_class(root: Path, n_students: int, names: list[str]) -> dict[str, dict[str, str]]:
    """``root/<student>/...``: copies of the reference solutions, some with a catalogued mistake, some nested
    in ``exercises/``, some mis-cased, one that hangs, one that floods, one that allocates without end.
    Returns the expected status of each student's exercises."""
    expected: dict[str, dict[str, str]] = {}
    specials = {1: ("basic_tokenize", HANG, grade.TIMEOUT), 2: ("wordpiece", FLOOD, grade.PASS),
                3: ("triplet_loss", HOG, grade.ERROR)}
    mistakes = [m for m in MISTAKES if m in names]
    for s in range(n_students):
        student = f"student {s:02d}"
        folder = root / student / ("exercises" if s % 3 == 0 else "")
        folder.mkdir(parents=True, exist_ok=True)
        want = {}
        for i, name in enumerate(names):
            text, status = (SOLUTIONS / f"{name}.py").read_text(), grade.PASS
            if s in specials and specials[s][0] == name:
                text, status = text + specials[s][1], specials[s][2]
            elif mistakes and s >= 4 and s % 2 == 0 and name == mistakes[(s // 2) % len(mistakes)]:
                change = MISTAKES[name]
                text = text.replace(*change) if isinstance(change, tuple) else text + "\n" + change
                status = grade.FAIL
            if s == 5 and i == 0:
                continue  # forgot one file
            file = f"{name.title()}.py" if s % 4 == 1 else f"{name}.py"  # Pooling.py, Bert_Layer.py
            if s % 4 == 1 and name == "multi_head_attention":
                file = "multi_head_attention.py"  # the sibling import (from attention_head import ...) needs this one
            (folder / file).write_text(text)
            want[name] = status
        if s == 5:
            want[names[0]] = grade.MISSING
        for below, above in (("attention_head", "multi_head_attention"), ("multi_head_attention", "bert_layer")):
            if want.get(below) == grade.FAIL and above in want:  # the reference imports its wrong sibling
                want[above] = grade.FAIL
        if s % 4 == 1 and "multi_head_attention" in names:  # its reference imports attention_head by that name
            (folder / "attention_head.py").write_text((SOLUTIONS / "attention_head.py").read_text())
        expected[student] = want
    return expected


def test_a_class_graded_into_csv_points_json_and_feedback_that_agree(tmp_path, capsys):
    names = ["basic_tokenize", "wordpiece", "triplet_loss"]
    expected = make_class(tmp_path / "class", 8, names)
    (tmp_path / "class" / "grading.toml").write_text('[points]\nwordpiece = 2\ntriplet_loss = 3\n')
    out = tmp_path / "out"
    code = main(["grade", *names, "--dir", str(tmp_path / "class"), "--csv", str(out / "scores.csv"),
                 "--points-csv", str(out / "points.csv"), "--json", str(out / "class.json"),
                 "--feedback", str(out / "feedback"), "--time-limit", "20", "--memory-limit", "2G"])
    assert code == 1
    rows = {r["student"]: r for r in csv.DictReader((out / "scores.csv").open())}
    points = {r["student"]: r for r in csv.DictReader((out / "points.csv").open())}
    data = json.loads((out / "class.json").read_text())
    assert set(rows) == set(points) == set(data["students"]) == set(expected)
    value = {"basic_tokenize": 1, "wordpiece": 2, "triplet_loss": 3}
    for student, want in expected.items():
        got = {n: rows[student][n] for n in names}
        assert got == want, (student, got, data["students"][student])
        page = (out / "feedback" / f"{student}.md").read_text()
        for n in names:
            cell = data["students"][student]["exercises"][n]
            assert cell["status"] == want[n]
            assert float(points[student][n]) == cell["points"] == (value[n] if want[n] == grade.PASS else 0)
            assert cell["max_points"] == value[n] and cell["seconds"] is not None
            assert f"| {n} | {want[n].upper()} | {cell['points']:g} / {value[n]:g} |" in page
        assert float(points[student]["total"]) == data["students"][student]["points"]
        assert points[student]["out_of"] == "6"
    hog = data["students"]["student 03"]["exercises"]["triplet_loss"]
    assert "MemoryError" in hog["message"] or "memory" in hog["message"].lower(), hog
    flood = data["students"]["student 02"]["exercises"]["wordpiece"]
    assert any("cut while it was read" in n for n in flood["notes"]), flood
    missing = data["students"]["student 05"]["exercises"]["basic_tokenize"]
    assert missing["details"][0].startswith("looked in ") and "in any case" in missing["details"][0]
    nested = data["students"]["student 00"]["exercises"]["wordpiece"]
    assert "graded exercises/wordpiece.py as wordpiece.py" in nested["notes"]
    mis_cased = data["students"]["student 01"]["exercises"]["wordpiece"]
    assert "graded Wordpiece.py as wordpiece.py" in mis_cased["notes"]
    for student, name, hint in (("student 04", "basic_tokenize", "no lower-casing"),
                                ("student 06", "triplet_loss", "not its square")):
        graded = data["students"][student]["exercises"]
        assert [n for n in names if graded[n]["status"] == grade.FAIL] == [name]
        assert hint in graded[name]["hint"]
        assert graded[name]["hint"] in (out / "feedback" / f"{student}.md").read_text()


def test_json_dash_prints_one_object_for_an_autograder(tmp_path, capsys):
    folder = tmp_path / "me"
    folder.mkdir()
    (folder / "wordpiece.py").write_text((SOLUTIONS / "wordpiece.py").read_text())
    code = main(["grade", "basic_tokenize", "wordpiece", "--dir", str(folder), "--json", "-"])
    captured = capsys.readouterr()
    assert code == 1
    data = json.loads(captured.out)
    assert data["exercises"]["wordpiece"]["status"] == "pass" and data["exercises"]["wordpiece"]["points"] == 1
    assert data["exercises"]["basic_tokenize"]["status"] == "missing"
    assert data["passed"] == 1 and data["max_points"] == 2
    assert "1 of 2 passed" in captured.err


def test_the_autograding_json_in_the_readme_lists_every_exercise():
    text = (REPO / "exercises" / "README.md").read_text()
    block = re.search(r"```json\n(\{\s*\"tests\".*?)\n```", text, re.DOTALL)
    assert block, "exercises/README.md shows a GitHub Classroom autograding.json"
    tests = json.loads(block.group(1))["tests"]
    assert [t["name"] for t in tests] == list(grade.EXERCISES)
    for t, (name, exercise) in zip(tests, grade.EXERCISES.items()):
        assert t["run"] == f"python -m minisbert grade {name}"
        assert t["points"] == exercise.points and t["timeout"] >= 1
        assert t["comparison"] == "included" or "output" not in t


@pytest.mark.fast
def test_grading_toml_allows_forbids_and_points(tmp_path):
    (tmp_path / "grading.toml").write_text('[integrity]\nallow = ["minisbert"]\nforbid = ["triplet_margin_loss"]\n'
                                           '[points]\nbert_layer = 3\n')
    policy = grade.read_config(tmp_path)
    assert "minisbert" not in policy.modules() and "transformers" in policy.modules()
    assert policy.points == {"bert_layer": 3.0}
    merged = policy.merged(grade.Policy(forbid={"minisbert"}))
    assert "minisbert" in merged.modules()
    (tmp_path / "grading.toml").write_text("[points]\nbert_layer = 'three'\n")
    with pytest.raises(ValueError, match=r"\[points\] values must be numbers"):
        grade.read_config(tmp_path)


@pytest.mark.fast
def test_a_flagged_built_in_is_noted_and_a_forbidden_one_refused():
    from minisbert.grading.integrity import Policy, review

    source = "import torch.nn.functional as F\n\ndef triplet_loss(a, p, n, margin):\n" \
             "    return F.triplet_margin_loss(a, p, n, margin=margin)\n"
    builtins = grade.EXERCISES["triplet_loss"].builtins
    forbidden, flagged = review(source, builtins, Policy())
    assert forbidden == [] and [str(u) for u in flagged] == ["line 4: return F.triplet_margin_loss(a, p, n, margin=margin)"]
    forbidden, flagged = review(source, builtins, Policy(forbid={"triplet_margin_loss"}))
    assert [u.name for u in forbidden] == ["triplet_margin_loss"] and flagged == []
    forbidden, flagged = review(source, builtins, Policy(allow={"triplet_margin_loss"}))
    assert forbidden == [] and flagged == []
    forbidden, _ = review("import importlib\nm = importlib.import_module('sentence_transformers')\n", (), Policy())
    assert [str(u) for u in forbidden] == ["line 2: m = importlib.import_module('sentence_transformers')"]


@pytest.mark.fast
def test_a_students_own_function_named_like_a_built_in_is_not_flagged():
    from minisbert.grading.integrity import Policy, review

    source = "def layer_norm(x, w, b):\n    return x\n\ndef bert_layer(x, w, mask, n):\n    return layer_norm(x, 1, 0)\n"
    assert review(source, grade.EXERCISES["bert_layer"].builtins, Policy()) == ([], [])
    source = "from torch.nn.functional import layer_norm\n"
    assert [u.name for u in review(source, grade.EXERCISES["bert_layer"].builtins, Policy())[1]] == ["layer_norm"]
