"""Exercise 2: WordPiece, one word -> sub-word pieces from a fixed vocabulary.

Grade it: python -m minisbert grade wordpiece
"""


def wordpiece(word: str, vocab: set[str]) -> list[str]:
    """Split one word (an output of basic_tokenize) into WordPiece tokens, greedy longest match first.

    Wu et al. 2016 (Google's NMT), used by BERT (Devlin et al. 2019, section 3): the vocabulary of
    30,522 pieces holds whole words ("play") and continuations, written with a "##" prefix ("##ing").
    A word is cut from the left, each time taking the longest piece in the vocabulary:

        "playing"    ->  ["playing"]                    (a whole word in the vocabulary)
        "unaffable"  ->  ["una", "##ffa", "##ble"]      (with the real vocabulary)

    With vocab = {"un", "##aff", "##able", ...}: "unaffable" -> ["un", "##aff", "##able"].

    Rules:
        - the first piece is looked up as it is; every later piece as "##" + piece, and is returned
          with its "##";
        - if at some point no prefix of the rest is in the vocabulary, the WHOLE word is ["[UNK]"]
          (not just the part that failed);
        - a word longer than 100 characters is ["[UNK]"] without looking it up.

    Args:
        word: one word, already lower-cased and split from punctuation.
        vocab: the set of vocabulary pieces (e.g. the lines of vocab.txt).

    Returns:
        The pieces, e.g. ["un", "##aff", "##able"], or ["[UNK]"].

    Hints:
        - Two loops: the outer one moves ``start`` along the word, the inner one shrinks ``end`` from
          ``len(word)`` down to ``start + 1`` until ``word[start:end]`` (with "##" if start > 0) is found.
        - Python's ``while ... else`` runs the ``else`` when the loop ended without ``break``.
    """
    raise NotImplementedError
