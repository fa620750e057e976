"""Exercise 1: BERT's basic tokenizer, text -> words and punctuation (before WordPiece).

Grade it: python -m minisbert grade basic_tokenize
"""


def basic_tokenize(text: str) -> list[str]:
    """Split ``text`` into words the way uncased BERT does, before WordPiece.

    Devlin et al. 2019 (BERT), section 3 and the released ``tokenization.py``: the uncased model sees
    lower-cased text without accents, with every punctuation character a token of its own.

        "Héllo, World!"  ->  ["hello", ",", "world", "!"]
        "naïve café"     ->  ["naive", "cafe"]
        "5.00$"          ->  ["5", ".", "00", "$"]

    The steps, in this order:

    1. Clean: drop U+0000, U+FFFD and control characters (``unicodedata.category`` Cc or Cf, except
       tab, newline and carriage return); turn every whitespace (space, \\t \\n \\r, category Zs)
       into a plain space.
    2. Put a space on each side of every CJK ideograph (U+4E00-U+9FFF, U+3400-U+4DBF, and the
       extensions): Chinese is not written with spaces, so each character is a word.
    3. Strip accents: ``unicodedata.normalize("NFD", text)`` splits "é" into "e" + U+0301; drop the
       characters of category Mn. Then lower-case.
    4. Split on whitespace, then split punctuation off: ASCII 33-47, 58-64, 91-96, 123-126 (so ``$``
       and ``^`` count, though Unicode calls them symbols) and every character of category P*.

    Args:
        text: any string (may be empty, may hold any Unicode).

    Returns:
        The list of words and punctuation marks, all lower-case, no empty strings.

    Hints:
        - ``str.split()`` without an argument splits on runs of whitespace and drops empty strings.
        - ``unicodedata.category(c)`` returns a two-letter code: "Lu", "Mn", "Po", "Zs", "Cc", ...
    """
    raise NotImplementedError
