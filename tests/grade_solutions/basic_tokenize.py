"""Reference solution: written from the docstring of exercises/basic_tokenize.py, without the library."""

import unicodedata

CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
       (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def is_punctuation(c):
    cp = ord(c)
    return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or unicodedata.category(c).startswith("P")


def basic_tokenize(text):
    out = []
    for c in text:
        if c in "\x00\ufffd" or (c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf")):
            continue
        if c in " \t\n\r" or unicodedata.category(c) == "Zs":
            c = " "
        if any(lo <= ord(c) <= hi for lo, hi in CJK):
            c = f" {c} "
        out.append(c)
    text = unicodedata.normalize("NFD", "".join(out))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn").lower()
    words = []
    for word in text.split():
        current = ""
        for c in word:
            if is_punctuation(c):
                words += [current, c] if current else [c]
                current = ""
            else:
                current += c
        if current:
            words.append(current)
    return words
