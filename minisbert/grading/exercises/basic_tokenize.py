"""Exercise 1, the basic tokenizer: the same words as the library on edge cases and real sentences."""

from __future__ import annotations

from ...tokenizer import basic_tokenize
from ..compare import case, check_tokens
from ..context import Context
from ..exercise import Exercise
from ..mistakes import BASIC_INPUTS, BASIC_WRONGS
from ..student import Student


def check(student: Student, ctx: Context) -> list[str]:
    usual = "compare the steps one by one: clean, space out CJK, strip accents, lower-case, split off punctuation"
    fn = lambda t: student("basic_tokenize", t)
    case("edge cases", lambda: check_tokens(fn, basic_tokenize, BASIC_INPUTS, "basic_tokenize", BASIC_WRONGS, usual))
    case(ctx.data, lambda: check_tokens(fn, basic_tokenize, ctx.sentences, "basic_tokenize", BASIC_WRONGS, usual))
    return [f"same words as the library on {len(BASIC_INPUTS)} edge cases and {len(ctx.sentences)} sentences ({ctx.data})"]


EXERCISE = Exercise(
    "basic_tokenize", ('basic_tokenize',), "minisbert/tokenizer.py: basic_tokenize",
    "notebooks/01_tokenizer.py", check,
    params={'basic_tokenize': ('text',)},
    builtins=(), tokenizer_only=True,
)
