"""Comparing a student's result with the reference, and saying what differs: the shape, the first position
that differs with both values and the largest difference, or for tokens the first input whose tokens
differ. A hint is added only when the result equals one of the usual mistakes (``mistakes.py``) computed
on the same inputs; otherwise the message restates the rule and names no mistake.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .results import MISSING, TODO, Fail
from .student import type_name

_measured: list[float] = []  # the max |Δ| of each comparison since ``start_measuring``


def start_measuring() -> None:
    _measured.clear()


def largest_error() -> float | None:
    """The largest max |Δ| of the comparisons made since ``start_measuring`` (None if none was made)."""
    finite = [d for d in _measured if not math.isnan(d)]
    return max(finite) if finite else None


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _first_hint(got, wrongs, same: Callable[[object, object], bool]) -> str | None:
    """The hint of the first usual mistake whose result equals the student's, if any."""
    for hint, compute in wrongs:
        try:
            if same(got, compute()):
                return hint
        except Exception:  # a variant that does not apply to these inputs
            continue
    return None


def _close(a: torch.Tensor, b: torch.Tensor, atol: float, rtol: float, valid: torch.Tensor | None = None) -> bool:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.shape != b.shape:
        return False
    a, b = a.detach().double(), b.detach().double()
    if valid is not None:
        a, b = a[valid], b[valid]
    return bool(torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True).all())


def check_tensor(got, want: torch.Tensor, what: str, *, atol: float = 1e-5, rtol: float = 1e-4,
                 valid: torch.Tensor | None = None, wrongs=(), usual: str = "") -> float:
    """Fail unless ``got`` equals ``want`` within ``atol + rtol·|want|``; returns max |Δ|.

    ``valid``: a bool mask over the leading dimensions (B, T) of the positions that count (real tokens,
    not padding). ``wrongs``: (hint, compute) pairs, the usual mistakes computed on the same inputs.
    """
    shape = tuple(want.shape)
    if not isinstance(got, torch.Tensor):
        raise Fail(f"{what}: returned a {type_name(got)}, expected a torch.Tensor of shape {shape}")
    if tuple(got.shape) != shape:
        hint = _first_hint(got, wrongs, lambda g, w: _close(g, w, atol, rtol))
        raise Fail(f"{what}: wrong shape", [f"shape: yours {tuple(got.shape)}, expected {shape}"]
                   + ([f"hint: {hint}"] if hint else []))
    if not (got.dtype.is_floating_point or got.dtype == want.dtype):
        raise Fail(f"{what}: returned dtype {got.dtype}, expected {want.dtype}")
    g, w = got.detach().double(), want.detach().double()
    ok = torch.isclose(g, w, rtol=rtol, atol=atol)
    keep = torch.ones_like(ok) if valid is None else valid.reshape(valid.shape + (1,) * (ok.dim() - valid.dim())).expand_as(ok)
    bad = ~ok & keep
    delta = (g - w).abs()
    delta = torch.where(torch.isnan(delta), torch.full_like(delta, math.inf), delta)
    max_delta = float(delta[keep].max()) if keep.any() else 0.0
    _measured.append(max_delta)
    if not bad.any():
        return max_delta
    first = [int(i) for i in bad.nonzero()[0]]
    at = f"[{', '.join(map(str, first))}]" if first else "(the scalar)"
    details = [f"first difference at {at}: yours {_fmt(float(g[tuple(first)]))}, expected "
               f"{_fmt(float(w[tuple(first)]))}; max |Δ| = {_fmt(max_delta)} (tolerance {atol:g} + {rtol:g}·|expected|)"]
    if valid is not None:
        details.append("(only real tokens count: positions where the mask is 0 are not compared)")
    hint = _first_hint(got, wrongs, lambda gg, ww: _close(gg, ww, atol, rtol, valid))
    details.append(f"hint: {hint}" if hint else f"rule: {usual}" if usual else "")
    raise Fail(f"{what}: values differ", [d for d in details if d])


def check_tokens(fn: Callable[[str], object], want: Callable[[str], list[str]], inputs: list[str], what: str,
                 wrongs: list[tuple[str, Callable[[str], list[str]]]], usual: str) -> None:
    """Fail at the first input whose tokens differ, showing both token lists from the first difference.

    The hint names a mistake only when that mistake gives the student's tokens on every input graded,
    not just on the one shown (greedy shortest match and a missing '##' can agree on one word).
    """
    answers = []
    for text in inputs:
        got = fn(text)
        if not isinstance(got, list) or not all(isinstance(t, str) for t in got):
            raise Fail(f"{what}: returned {type_name(got)} {_short(repr(got))}, expected a list of str",
                       [f"input {text!r}"])
        answers.append((text, got))
    for text, got in answers:
        expected = want(text)
        if got == expected:
            continue
        i = next((k for k, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
        lo = max(0, i - 3)
        details = [f"first input whose tokens differ: {text!r}",
                   f"  yours:    {'... ' if lo else ''}{got[lo:lo + 8]}",
                   f"  expected: {'... ' if lo else ''}{expected[lo:lo + 8]}",
                   f"  (token {i} is the first that differs; yours has {len(got)} tokens, expected {len(expected)})"]
        hint = next((h for h, variant in wrongs if all(_safe(variant, t) == g for t, g in answers)), None)
        details.append(f"hint: {hint}" if hint else f"rule: {usual}")
        raise Fail(f"{what}: tokens differ", details)


def _safe(fn, *args):
    try:
        return fn(*args)
    except Exception:
        return None


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def check_scalar(got, want: torch.Tensor, what: str, *, atol: float = 1e-6, rtol: float = 1e-5, wrongs=(),
                 usual: str = "") -> float:
    """A loss: a scalar tensor (0-dim, as the docstrings ask, so that ``backward()`` can run on it) equal to
    ``want``. A float, a number from ``.item()`` or a one-element vector is not one."""
    if not isinstance(got, torch.Tensor):
        raise Fail(f"{what}: returned a {type_name(got)}, expected a scalar torch.Tensor (shape ())",
                   ["hint: .item() (or float()) turns the loss into a Python number, which has no graph: training "
                    "cannot call backward() on it; return the tensor"] if isinstance(got, (float, int)) else [])
    if got.dim() != 0:
        raise Fail(f"{what}: returned a tensor of shape {tuple(got.shape)}, expected a scalar torch.Tensor (shape ())",
                   ["the loss is one number: a mean (or a sum) over the batch, as the docstring says"])
    return check_tensor(got, want.reshape(()), what, atol=atol, rtol=rtol, wrongs=wrongs, usual=usual)


def case(what: str, run: Callable[[], object]):
    """Run one case; a failure's summary names the inputs it failed on."""
    try:
        return run()
    except Fail as f:
        if f.status in (TODO, MISSING):  # nothing about these inputs in particular
            raise
        raise Fail(f"{what}: {f.summary}", f.details, f.status) from None


def check_loss(student, name: str, args: tuple, grad: tuple[int, ...], reference: Callable, what: str, *,
               atol: float = 1e-6, rtol: float = 1e-5, wrongs=(), usual: str = "") -> float:
    """A loss: its value (``check_scalar``), then its graph. The inputs at positions ``grad`` are leaves
    that require a gradient; ``backward()`` is called on the student's loss and the gradients with respect
    to them are compared with those of ``reference(*args)`` (the library's). A loss without a graph
    (``torch.no_grad()``, ``.detach()``, a float turned back into a tensor) cannot train anything."""
    out = student.call(name, *args, grad=grad)
    delta = check_scalar(out["value"], reference(*args).detach(), what, atol=atol, rtol=rtol, wrongs=wrongs,
                         usual=usual)
    names = [student.params.get(name, ())[i] if i < len(student.params.get(name, ())) else f"argument {i + 1}"
             for i in grad]
    if not out["graph"]:
        raise Fail(f"{what}: the loss has no graph: backward() cannot reach {', '.join(names)}", [
            "its value is right, but training could not move the model with it",
            "hint: the loss was computed under torch.no_grad(), detached, or rebuilt from a number: compute it "
            "with torch operations on the inputs, so that loss.backward() reaches them"])
    if out["graph_error"]:
        raise Fail(f"{what}: loss.backward() raised {out['graph_error']}")
    leaves = list(args)
    for i in grad:
        leaves[i] = args[i].detach().clone().requires_grad_(True)
    reference(*leaves).backward()
    for k, i in enumerate(grad):
        got = out["grads"][k] if k < len(out["grads"]) else None
        if got is None:
            raise Fail(f"{what}: no gradient reaches {names[k]}",
                       [f"rule: the loss must depend on {names[k]} through torch operations"])
        check_tensor(got, leaves[i].grad, f"{what}: the gradient with respect to {names[k]}", atol=1e-5, rtol=1e-4,
                     usual="the gradients follow from the loss: when the value is right and they differ, look "
                           "for a detach() or an in-place change inside the computation")
    return delta


def locate(stages, atol: float = 1e-5, rtol: float = 1e-4) -> str | None:
    """The first stage of a multi-part answer that differs, found by probing it.

    ``stages``: (label, run, want, valid) in the order the computation flows, where ``run()`` calls the
    student's function on inputs built so that its output isolates that stage (the later stages made
    transparent: an identity projection, a zeroed sub-layer), ``want`` is the library's output on the same
    inputs and ``valid`` the positions that count. Returns a line naming the stages that agree and the
    first that differs, with where and by how much; None when every stage agrees or a probe fails to run.
    """
    same = []
    for label, run, want, valid in stages:
        try:
            got = run()
        except (Fail, Exception):  # the probe itself failed: say nothing rather than guess
            return None
        if _close(got, want, atol, rtol, valid):
            same.append(label)
            continue
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            return None
        g, w = got.detach().double(), want.detach().double()
        bad = ~torch.isclose(g, w, rtol=rtol, atol=atol)
        if valid is not None:
            bad &= valid.reshape(valid.shape + (1,) * (bad.dim() - valid.dim())).expand_as(bad)
        at = tuple(int(i) for i in bad.nonzero()[0])
        agree = f"{', '.join(same)}: same as the library; " if same else ""
        return (f"stage: {agree}{label}: differs first (at {list(at)} on the probe: yours {_fmt(float(g[at]))}, "
                f"expected {_fmt(float(w[at]))})")
    return None
