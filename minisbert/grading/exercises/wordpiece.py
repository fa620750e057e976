"""Exercise 2, WordPiece: the same pieces as the library with a tiny vocabulary and the real one."""

from __future__ import annotations

from ...tokenizer import BertTokenizer, basic_tokenize
from ..compare import case, check_tokens
from ..context import Context
from ..exercise import Exercise
from ..mistakes import TINY_VOCAB, TINY_WORDS, WORDPIECE_WRONGS
from ..student import Student


def check(student: Student, ctx: Context) -> list[str]:
    def reference(vocab):
        tok = BertTokenizer({t: i for i, t in enumerate(sorted(vocab))})
        return lambda w: tok.convert_ids_to_tokens(list(tok._wordpiece(w)))

    usual = "start at the beginning of the word, take the longest piece in the vocabulary, continue after it with '##'"
    wrongs = lambda vocab: [(h, lambda w, f=f: f(w, vocab)) for h, f in WORDPIECE_WRONGS]
    fn = lambda vocab: (lambda w: student("wordpiece", w, vocab))
    case("a tiny vocabulary", lambda: check_tokens(fn(TINY_VOCAB), reference(TINY_VOCAB), TINY_WORDS, "wordpiece",
                                                     wrongs(TINY_VOCAB), usual))
    words = list(dict.fromkeys(w for s in ctx.sentences for w in basic_tokenize(s)))
    # the docstring's promises: a word of exactly 100 characters is looked up, one of 101 is [UNK]; a single
    # character; a word with no piece at all
    words += ["unaffable", "tokenization", "xyzzyqq", "ünïcödé", "a" * 100, "a" * 101, "antidisestablishmentarianism",
              "x", "\u2603\u2603"]
    case(f"the all-MiniLM-L6-v2 vocabulary ({len(ctx.vocab)} pieces)",
          lambda: check_tokens(fn(ctx.vocab), reference(ctx.vocab), words, "wordpiece", wrongs(ctx.vocab), usual))
    return [f"same pieces as the library on {len(TINY_WORDS)} words of a tiny vocabulary and {len(words)} words "
            f"with the real one"]


EXERCISE = Exercise(
    "wordpiece", ('wordpiece',), "minisbert/tokenizer.py: BertTokenizer._wordpiece",
    "notebooks/01_tokenizer.py", check,
    params={'wordpiece': ('word', 'vocab')},
    builtins=(), tokenizer_only=True,
)
