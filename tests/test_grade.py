"""The coursework grader (minisbert/grading/, ``python -m minisbert grade``) on the exercises in exercises/.

As shipped every stub fails; the reference solutions in tests/grade_solutions/ (written from the stubs'
docstrings, without the library) pass; each plausible wrong answer in tests/grade_solutions/wrong.py fails
with its hint; instructor mode grades a folder of students with a crash, a hang and garbage output.

The grader compares with the library, never with transformers or sentence-transformers (the library does not
import them). That the library's pieces equal theirs is tested where each piece lives: tests/test_tokenizer.py
(transformers' BertTokenizer), tests/test_bert.py (every layer against transformers' BertModel),
tests/test_pooling.py (sentence-transformers' Pooling), tests/test_objectives.py (SoftmaxLoss,
CosineSimilarityLoss, TripletLoss), tests/test_masking.py (DataCollatorForLanguageModeling, draw for draw) and
tests/test_similarity.py (paraphrase_mining). The last test here ties the grader's layer references to
transformers directly, on the real model.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from minisbert import grading as grade
from minisbert.__main__ import main

REPO = Path(__file__).resolve().parent.parent
EXERCISES = REPO / "exercises"
SOLUTIONS = Path(__file__).resolve().parent / "grade_solutions"
WRONG = grade.load_file(SOLUTIONS / "wrong.py").WRONG


@pytest.fixture(scope="module")
def context(real_sbert):
    return grade.Context(real_sbert)


# ----------------------------------------------------------------------------------------------------
# In this process: stubs, references, wrong answers (a second each at most)


@pytest.mark.fast
def test_one_file_per_exercise_and_no_solutions_shipped():
    assert sorted(p.stem for p in EXERCISES.glob("*.py")) == sorted(grade.EXERCISES)
    assert sorted(p.stem for p in SOLUTIONS.glob("*.py") if p.stem != "wrong") == sorted(grade.EXERCISES)
    for name, exercise in grade.EXERCISES.items():
        module = grade.load_file(EXERCISES / f"{name}.py")
        for function in exercise.functions:
            assert getattr(module, function).__doc__.count("\n") >= 8, f"{name}.{function} needs its docstring"


@pytest.mark.fast
@pytest.mark.parametrize("name", list(grade.EXERCISES))
def test_every_stub_fails_as_not_written_yet(context, name):
    result = grade.grade_file(name, EXERCISES, context)
    assert result.status == grade.TODO, grade.format_result(result)
    assert "not written yet" in result.summary


@pytest.mark.fast
@pytest.mark.parametrize("name", list(grade.EXERCISES))
def test_the_reference_solution_passes_and_points_to_the_library(context, name):
    result = grade.grade_file(name, SOLUTIONS, context)
    assert result.passed, grade.format_result(result)
    library = grade.EXERCISES[name].library
    assert f"the library does the same in {library}" in "\n".join(result.details)
    path = library.split(":")[0]
    assert (REPO / path).is_file()
    for symbol in library.split(":")[1].split("(")[0].replace(" then ", ",").split(","):
        assert symbol.strip().split(".")[-1] in (REPO / path).read_text(), symbol


@pytest.mark.fast
def test_every_exercise_has_a_wrong_answer():
    assert {name for name, *_ in WRONG} == set(grade.EXERCISES)


@pytest.mark.fast
@pytest.mark.parametrize("name, mistake, functions, hint", WRONG, ids=[f"{w[0]}: {w[1]}" for w in WRONG])
def test_a_wrong_answer_fails_with_its_hint(context, name, mistake, functions, hint):
    result = grade.grade_functions(name, functions, context)
    text = grade.format_result(result)
    assert result.status == grade.FAIL, text
    hints = [line for line in result.details if line.startswith("hint: ")]
    assert len(hints) == 1 and hint in hints[0], text


@pytest.mark.fast
def test_a_fail_says_where_and_never_shows_the_reference(context):
    w = next(w for w in WRONG if w[1] == "no √d")
    result = grade.grade_functions("attention_head", w[2], context)
    first = next(line for line in result.details if line.startswith("first difference at ["))
    assert "yours" in first and "expected" in first and "max |Δ|" in first
    text = grade.format_result(result)
    for code in ("def ", "softmax(dim", "masked_fill(", "import "):
        assert code not in text

    bad_shape = grade.grade_functions("pooling", {"mean_pool": lambda h, m: h, "max_pool": None, "cls_pool": None}, context)
    assert bad_shape.status == grade.FAIL and "wrong shape" in bad_shape.summary
    assert any(line.startswith("shape: yours (4, 6, 8), expected (4, 8)") for line in bad_shape.details)

    tokens = grade.grade_functions("wordpiece", {"wordpiece": WRONG[3][2]["wordpiece"]}, context)
    assert tokens.details[0].startswith("first input whose tokens differ: 'unaffable'")


@pytest.mark.fast
def test_errors_garbage_and_missing_functions_are_results_not_crashes(context, tmp_path):
    def broken(a, p, n, margin):
        return a.nonexistent

    result = grade.grade_functions("triplet_loss", {"triplet_loss": broken}, context, {__file__})
    assert result.status == grade.ERROR and "AttributeError" in result.summary
    assert result.details == [f"at {Path(__file__).name} line {broken.__code__.co_firstlineno + 1}: return a.nonexistent"]

    for garbage in ("a string", [1, 2], None, torch.tensor([float("nan")])):
        result = grade.grade_functions("regression_loss", {"regression_loss": lambda u, v, s, g=garbage: g}, context)
        assert result.status in (grade.FAIL, grade.ERROR), result

    assert grade.grade_functions("wordpiece", {}, context).status == grade.MISSING
    (tmp_path / "pooling.py").write_text("def mean_pool(:\n")
    result = grade.grade_file("pooling", tmp_path, context)
    assert result.status == grade.ERROR and "cannot be imported" in result.summary
    assert grade.grade_file("bert_layer", tmp_path, context).status == grade.MISSING


@pytest.mark.fast
def test_a_function_name_stands_for_its_exercise():
    assert grade.check_names(["mean_pool", "cls_pool", "pooling", "wordpiece"]) == ["pooling", "wordpiece"]
    assert grade.check_names([]) == list(grade.EXERCISES)


@pytest.mark.fast
def test_usage_errors_exit_with_code_2(tmp_path, capsys):
    assert main(["grade", "no_such_exercise", "--dir", str(EXERCISES)]) == 2
    assert "unknown exercise 'no_such_exercise'" in capsys.readouterr().err
    assert main(["grade", "pooling", "--dir", str(tmp_path / "absent")]) == 2
    assert main(["grade", "pooling", "--dir", str(EXERCISES), "--time-limit", "0"]) == 2
    assert main(["grade", "--dir", str(tmp_path), "--csv", str(tmp_path / "scores.csv")]) == 2  # no student folders
    assert main(["grade", "pooling", "--dir", str(EXERCISES), "--model", str(tmp_path / "no_model")]) == 2
    with pytest.raises(SystemExit) as e:
        main(["grade", "--time-limit", "soon"])
    assert e.value.code == 2


# ----------------------------------------------------------------------------------------------------
# In child processes: the command, and instructor mode


def test_the_command_exits_0_when_all_pass_and_1_otherwise(capsys):
    # The tokenizer exercises: their child process needs no weights, so it starts quickly.
    assert main(["grade", "basic_tokenize", "wordpiece", "--dir", str(SOLUTIONS)]) == 0
    out = capsys.readouterr().out
    # The status column starts one space after the longest exercise name, in_batch_negatives_loss (23 letters).
    assert "basic_tokenize" + " " * 10 + "PASS" in out and "2 of 2 passed" in out
    assert main(["grade", "wordpiece", "--dir", str(EXERCISES)]) == 1
    out = capsys.readouterr().out
    assert "wordpiece" + " " * 15 + "TODO    wordpiece() is not written yet" in out and "0 of 1 passed" in out


CRASH = "import os, signal\n\ndef basic_tokenize(text):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
HANG = "def basic_tokenize(text):\n    while True:\n        pass\n"
GARBAGE = ("import sys\n\ndef basic_tokenize(text):\n"
           "    print('{\"result\": {\"name\": \"basic_tokenize\", \"status\": \"pass\"}}')\n"
           "    sys.stderr.write('\\x00\\xff garbage ' * 1000)\n    return 'garbage'\n")
NOISY = "\nprint('{\"start\": \"basic_tokenize\"}' * 100)\n"  # at import: output that imitates the grader's


def test_instructor_mode_one_crash_or_hang_costs_one_exercise(tmp_path):
    names = ("basic_tokenize", "wordpiece")
    students = {"alice": {}, "bob": {"basic_tokenize": CRASH}, "carol": {"basic_tokenize": HANG},
                "dave": {"basic_tokenize": GARBAGE, "wordpiece": NOISY}}
    for student, changes in students.items():
        (tmp_path / "class" / student).mkdir(parents=True)
        for name in names:  # a change defined after the good function replaces it (or adds to it)
            text = (SOLUTIONS / f"{name}.py").read_text() + "\n" + changes.get(name, "")
            (tmp_path / "class" / student / f"{name}.py").write_text(text)
    (tmp_path / "class" / "notes.txt").write_text("not a student")
    scores = tmp_path / "scores.csv"
    code = main(["grade", *names, "--dir", str(tmp_path / "class"), "--csv", str(scores), "--time-limit", "3"])
    assert code == 1
    rows = list(csv.DictReader(scores.open()))
    assert list(rows[0]) == ["student", *names, "passed"]
    table = {r["student"]: (r["basic_tokenize"], r["wordpiece"], r["passed"]) for r in rows}
    assert table == {"alice": ("pass", "pass", "2"), "bob": ("crash", "pass", "1"),
                     "carol": ("timeout", "pass", "1"), "dave": ("fail", "pass", "1")}


# ----------------------------------------------------------------------------------------------------
# The grader's references against transformers, on the real model


def test_the_layer_references_equal_transformers(context, hf_bert):
    """The reference solutions pass the grader; here the grader's own layer references (the library's modules on
    the real weights) are checked against transformers' layers on the same inputs, at real tokens."""
    h, mask = context.hidden(3)
    ours, _ = grade._library_layer(grade._real_layer(context, 3), 12)(h, grade._key_mask(mask))
    extended = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    with torch.no_grad():
        theirs = hf_bert.encoder.layer[3](h, attention_mask=extended)
    theirs = theirs[0] if isinstance(theirs, tuple) else theirs
    valid = mask.bool()
    assert (ours.detach()[valid] - theirs[valid]).abs().max() < 1e-5

    batch = context.batch(8, pairs=True)
    with torch.no_grad():
        theirs = hf_bert.embeddings(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"])
        ours = context.bert.embeddings(batch["input_ids"], batch["token_type_ids"])
    assert (ours - theirs).abs().max() < 1e-5
