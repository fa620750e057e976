"""The grader against a hostile student: the student's code runs in a child process that only computes,
and every attempt to forge or steer a verdict fails or errors.

Each test writes a submission that tries one thing (patching the comparison, patching the reference,
writing fake replies on the pipe, carrying a patch to the next exercise, rewriting another student's
file, leaving a forked process behind, flooding the output, allocating 20 GiB) and checks the verdict the
grader's own process reaches.
"""

from __future__ import annotations

import os
import resource
import sys
import textwrap
from pathlib import Path

import pytest

from minisbert import grading as grade

SOLUTIONS = Path(__file__).resolve().parent / "grade_solutions"

WRONG_TRIPLET = textwrap.dedent("""
    import torch

    def triplet_loss(a, p, n, margin):
        return torch.relu((a - p).pow(2).sum(-1) - (a - n).pow(2).sum(-1) + margin).mean()  # squared: wrong
""")


@pytest.fixture(scope="module")
def context(real_sbert):
    return grade.Context(real_sbert)


def submit(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def solution(name: str) -> str:
    return (SOLUTIONS / f"{name}.py").read_text()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_the_wrong_answer_alone_fails(context, tmp_path):
    results = grade.grade_folder(submit(tmp_path / "s", {"triplet_loss.py": WRONG_TRIPLET}), ["triplet_loss"],
                                 context=context)
    assert results["triplet_loss"].status == grade.FAIL, grade.format_result(results["triplet_loss"])
    assert "not its square" in results["triplet_loss"].hint


def test_patched_comparison_functions_change_nothing(context, tmp_path):
    patch = textwrap.dedent("""
        import builtins, math, torch
        torch.isclose = lambda *a, **k: torch.tensor(True)
        torch.allclose = lambda *a, **k: True
        torch.equal = lambda *a, **k: True
        torch.Tensor.__eq__ = lambda *a, **k: True
        math.isclose = lambda *a, **k: True
        builtins.abs = lambda x: 0
    """)
    folder = submit(tmp_path / "s", {"triplet_loss.py": patch + WRONG_TRIPLET})
    result = grade.grade_folder(folder, ["triplet_loss"], context=context)["triplet_loss"]
    assert result.status == grade.FAIL, grade.format_result(result)


def test_patching_the_reference_is_refused_or_changes_nothing(context, tmp_path):
    # By default the library may not be imported at all, even by a computed name.
    sneaky = textwrap.dedent("""
        try:
            objectives = __import__("mini" + "sbert.objectives", fromlist=["x"])
            objectives.TripletObjective.loss_from_embeddings = lambda self, a, p, n: 0
        except ImportError:
            pass
    """)
    folder = submit(tmp_path / "a", {"triplet_loss.py": sneaky + WRONG_TRIPLET})
    result = grade.grade_folder(folder, ["triplet_loss"], context=context)["triplet_loss"]
    assert result.status == grade.FORBIDDEN, grade.format_result(result)
    assert "minisbert" in result.summary

    # With the library allowed, patching it in the student's process does not reach the grader's reference.
    patched = textwrap.dedent("""
        import minisbert.objectives as objectives
        from minisbert.objectives import TripletObjective
        squared = lambda self, a, p, n: ((a - p).pow(2).sum(-1) - (a - n).pow(2).sum(-1) + self.margin).relu().mean()
        TripletObjective.loss_from_embeddings = squared
    """)
    folder = submit(tmp_path / "b", {"triplet_loss.py": patched + WRONG_TRIPLET})
    result = grade.grade_folder(folder, ["triplet_loss"], context=context,
                                policy=grade.Policy(allow={"minisbert"}))["triplet_loss"]
    assert result.status == grade.FAIL, grade.format_result(result)


def test_a_plain_import_of_the_library_is_forbidden_with_its_line(context, tmp_path):
    folder = submit(tmp_path / "s", {"pooling.py": "import torch\nfrom minisbert.pooling import mean_pooling as mean_pool\n"})
    result = grade.grade_folder(folder, ["pooling"], context=context)["pooling"]
    assert result.status == grade.FORBIDDEN
    assert result.details[0] == "at line 2: from minisbert.pooling import mean_pooling as mean_pool"


FORGE = textwrap.dedent("""
    import json, os, sys

    def basic_tokenize(text):
        lines = [json.dumps({"result": {"name": n, "status": "pass", "summary": "ok", "details": []}}).encode() + b"\\n"
                 for n in ("basic_tokenize", "wordpiece")]
        for fd in [int(x) for x in sys.argv[1:3]] + list(range(3, 40)):
            for data in lines + [b"MSB1" + (10**12).to_bytes(8, "big"), b"\\x00\\xff not a frame"]:
                try:
                    os.write(fd, data)
                except OSError:
                    pass
        return ["garbage"]
""")


def test_forged_result_lines_on_the_pipe_are_an_error_and_the_run_goes_on(context, tmp_path):
    folder = submit(tmp_path / "s", {"basic_tokenize.py": FORGE, "wordpiece.py": solution("wordpiece")})
    results = grade.grade_folder(folder, ["basic_tokenize", "wordpiece"], context=context)
    assert results["basic_tokenize"].status in (grade.ERROR, grade.FAIL), grade.format_result(results["basic_tokenize"])
    assert results["wordpiece"].status == grade.PASS, grade.format_result(results["wordpiece"])


def test_a_patch_does_not_carry_to_the_next_exercise(context, tmp_path):
    right = solution("wordpiece")
    carry = textwrap.dedent(f"""
        import builtins, os, torch
        builtins.sorted = lambda *a, **k: []
        torch.isclose = lambda *a, **k: torch.tensor(True)
        # and put a right answer in place of the next exercise's file, in the working folder
        open(os.path.join(os.path.dirname(__file__), "wordpiece.py"), "w").write({right!r})
    """)
    wrong_wordpiece = right.replace('("##" if start > 0 else "")', '""')
    assert wrong_wordpiece != right
    folder = submit(tmp_path / "s", {"basic_tokenize.py": solution("basic_tokenize") + carry,
                                     "wordpiece.py": wrong_wordpiece, "triplet_loss.py": WRONG_TRIPLET})
    results = grade.grade_folder(folder, ["basic_tokenize", "wordpiece", "triplet_loss"], context=context)
    assert results["basic_tokenize"].status == grade.PASS, grade.format_result(results["basic_tokenize"])
    assert results["wordpiece"].status == grade.FAIL, grade.format_result(results["wordpiece"])
    assert "'##' prefix" in results["wordpiece"].hint
    assert results["triplet_loss"].status == grade.FAIL


def test_a_student_cannot_change_another_students_file(context, tmp_path):
    bob = tmp_path / "class" / "bob"
    vandal = textwrap.dedent(f"""
        import pathlib
        for p in pathlib.Path({str(bob)!r}).glob("*.py"):
            p.write_text("def basic_tokenize(text):\\n    return ['vandalised']\\n")
    """)
    submit(tmp_path / "class" / "alice", {"basic_tokenize.py": vandal + solution("basic_tokenize")})
    submit(bob, {"basic_tokenize.py": solution("basic_tokenize")})
    table = grade.grade_class(tmp_path / "class", ["basic_tokenize"], context=context)
    assert (bob / "basic_tokenize.py").read_text().count("vandalised") == 1  # the original was overwritten ...
    assert table["bob"]["basic_tokenize"].status == grade.PASS  # ... after bob's files were read


def test_the_grader_never_imports_the_students_code(context, tmp_path):
    marker = tmp_path / "pids.txt"
    spy = f"import os\nopen({str(marker)!r}, 'a').write(str(os.getpid()) + '\\n')\n"
    folder = submit(tmp_path / "s", {"triplet_loss.py": spy + solution("triplet_loss")})
    assert grade.grade_folder(folder, ["triplet_loss"], context=context)["triplet_loss"].passed
    pids = {int(x) for x in marker.read_text().split()}
    assert len(pids) == 1 and os.getpid() not in pids
    assert not any(str(folder) in str(getattr(m, "__file__", "") or "") for m in list(sys.modules.values()))


def test_a_forked_child_holding_the_output_is_killed(context, tmp_path):
    pidfile = tmp_path / "pid.txt"
    fork = textwrap.dedent(f"""
        import os, time

        def basic_tokenize(text):
            if os.fork() == 0:
                os.setsid()  # leaves the session: only the environment mark still finds it
                open({str(pidfile)!r}, "w").write(str(os.getpid()))
                time.sleep(300)
                os._exit(0)
            time.sleep(0.5)
            return ["wrong"]
    """)
    folder = submit(tmp_path / "s", {"basic_tokenize.py": fork})
    result = grade.grade_folder(folder, ["basic_tokenize"], time_limit=60, context=context)["basic_tokenize"]
    assert result.status == grade.FAIL, grade.format_result(result)
    pid = int(pidfile.read_text())
    assert not alive(pid)
    assert not any("could not be ended" in n for n in result.notes)


def test_a_1_gib_output_flood_is_cut_while_read(context, tmp_path):
    flood = textwrap.dedent("""
        import sys

        flooded = []

        def basic_tokenize(text):
            if not flooded:  # once: 1 GiB
                flooded.append(True)
                block = "x" * (1 << 20)
                for _ in range(1024):
                    sys.stdout.write(block)
                sys.stdout.flush()
            return ["wrong"]
    """)
    folder = submit(tmp_path / "s", {"basic_tokenize.py": flood})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, the peak so far
    result = grade.grade_folder(folder, ["basic_tokenize"], time_limit=300, context=context)["basic_tokenize"]
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert result.status == grade.FAIL, grade.format_result(result)
    assert any("1,073,741,824 bytes" in n and "cut" in n for n in result.notes), result.notes
    assert after - before < 200 * 1024  # the grader's peak memory grew by less than 200 MiB


def test_a_20_gib_allocation_is_refused_by_the_memory_limit(context, tmp_path):
    greedy = textwrap.dedent("""
        import torch

        def triplet_loss(a, p, n, margin):
            hog = torch.ones(20 << 30, dtype=torch.uint8)  # 20 GiB, touched
            return hog.float().sum()
    """)
    folder = submit(tmp_path / "s", {"triplet_loss.py": greedy, "basic_tokenize.py": solution("basic_tokenize")})
    results = grade.grade_folder(folder, ["triplet_loss", "basic_tokenize"], context=context,
                                 memory_limit=grade.DEFAULT_MEMORY_LIMIT)
    assert results["triplet_loss"].status in (grade.ERROR, grade.CRASH), grade.format_result(results["triplet_loss"])
    assert results["basic_tokenize"].status == grade.PASS


def test_a_malformed_reply_is_that_exercises_error(context, tmp_path):
    bad = textwrap.dedent("""
        import os, sys

        def triplet_loss(a, p, n, margin):
            body = b'{"value": {"__tensor__": "t9"}, "grads": [], "after": []}'
            os.write(int(sys.argv[2]), b"MSB1" + len(body).to_bytes(8, "big") + body + (0).to_bytes(8, "big"))
            os._exit(0)
    """)
    folder = submit(tmp_path / "s", {"triplet_loss.py": bad, "basic_tokenize.py": solution("basic_tokenize")})
    results = grade.grade_folder(folder, ["triplet_loss", "basic_tokenize"], context=context)
    assert results["triplet_loss"].status == grade.ERROR, grade.format_result(results["triplet_loss"])
    assert "could not be read" in results["triplet_loss"].summary
    assert results["basic_tokenize"].status == grade.PASS
