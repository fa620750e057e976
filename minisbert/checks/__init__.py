"""Argument checks shared across the library: each raises a typed error that names the argument.

A bad argument found here, before any work, costs nothing; found an hour into a run, or as a cryptic
error from deep inside torch, it costs the hour. The messages say what was expected and what came.
"""

from __future__ import annotations

import numbers
from typing import Sequence

from ..pooling import check_pooling_mode  # noqa: F401  (re-exported: it lives beside POOLING_MODES)


def is_int(value) -> bool:
    """An integer (Python's or numpy's), but not a bool (``True`` is an int to Python, not a count)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """An int or a float (Python's or numpy's), but not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive_int(value, name: str, allow_none: bool = False) -> None:
    """ValueError unless ``value`` is an int > 0 (or ``None``, when allowed)."""
    if allow_none and value is None:
        return
    if not is_int(value) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_int_range(value, name: str, low: int, high: int, why: str = "") -> None:
    """ValueError unless ``value`` is an int in [low, high]; ``why`` explains the bounds in the message."""
    if not is_int(value) or not low <= value <= high:
        raise ValueError(f"{name} must be an int from {low} to {high}{why}, got {value!r}")


def check_probability(value, name: str) -> None:
    """ValueError unless ``value`` is a number in [0, 1): a dropout probability (1 would drop everything)."""
    if not is_number(value) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")


def check_optional_bool(value, name: str) -> None:
    """TypeError unless ``value`` is True, False or None (None: "follow the model")."""
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name} must be True, False or None, got {value!r}")


def check_choice(value, name: str, choices: Sequence) -> None:
    """ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be {' or '.join(map(repr, choices))}, got {value!r}")


# ----------------------------------------------------------------------------------------------------
# Texts


def check_strings(items: Sequence, name: str) -> None:
    """TypeError naming the first entry of ``items`` that is not a str: ``texts[3] must be str, got int``."""
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{i}] must be str, got {type(item).__name__}")


def check_texts(texts, name: str = "texts") -> list[str]:
    """A list of strings from any iterable of strings; one bare string is refused (wrap it in a list)."""
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a list of strings, got one string (wrap it in a list)")
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"{name} must be a list of strings, got {type(texts).__name__}") from None
    check_strings(texts, name)
    return texts


def check_pairs(pairs, name: str = "pairs") -> list[tuple[str, str]]:
    """A list of (a, b) string pairs, or a TypeError that names the first bad entry."""
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise TypeError(f"{name} must be a list of (a, b) tuples of strings, got {type(pairs).__name__}")
    out = []
    for i, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            what = f"a {type(pair).__name__} of length {len(pair)}" if isinstance(pair, Sequence) else type(pair).__name__
            raise TypeError(f"{name}[{i}] must be a 2-tuple (a, b) of strings, got {what}")
        a, b = pair
        if not isinstance(a, str) or not isinstance(b, str):
            raise TypeError(f"{name}[{i}] must hold two strings, got ({type(a).__name__}, {type(b).__name__})")
        out.append((a, b))
    return out
