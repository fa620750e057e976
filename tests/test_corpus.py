"""Corpus to examples: sentence splitting, packing as BERT's create_pretraining_data, and no leak of a
benchmark's dev or test sentence into the pre-training text."""

import glob
from pathlib import Path

import numpy as np
import pytest

from minisbert.io.corpus import (CorpusError, TokenizedCorpus, corpus_vocabulary, held_out_sentences, make_examples,
                                 read_documents, split_sentences, tokenize_corpus, write_train_sentences)
from minisbert.tokenizer import BertTokenizer, load_tokenizer

SPECIAL = {"cls": 101, "sep": 102, "pad": 0}


@pytest.mark.fast
@pytest.mark.parametrize("paragraph, sentences", [
    ("It rained. Then it stopped!", ["It rained.", "Then it stopped!"]),
    ("Mr. Darcy bowed. She smiled.", ["Mr. Darcy bowed.", "She smiled."]),
    ('"Go," he said. "Now!" And they went.', ['"Go," he said.', '"Now!"', "And they went."]),
    ("In 1790 the debt was large. 12 states paid.", ["In 1790 the debt was large.", "12 states paid."]),
    ("e.g. this stays whole, as does 3.5 percent.", ["e.g. this stays whole, as does 3.5 percent."]),
    ("Was it? yes it was.", ["Was it? yes it was."]),  # no capital after the mark: one sentence
])
def test_split_sentences(paragraph, sentences):
    assert split_sentences(paragraph) == sentences


@pytest.mark.fast
def test_documents_are_separated_by_blank_lines(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("Title\nFirst paragraph. Second sentence.\n\n\nAnother document.\n \nA third.\n")
    assert read_documents([path]) == [["Title", "First paragraph.", "Second sentence."], ["Another document."],
                                      ["A third."]]


def hand_corpus(lengths_per_document: list[list[int]]) -> TokenizedCorpus:
    """A corpus of made-up ids: sentence s of the whole corpus holds tokens 1000 + s, repeated."""
    ids, sentence_starts, document_starts, s = [], [0], [0], 0
    for document in lengths_per_document:
        for n in document:
            ids += [1000 + s] * n
            sentence_starts.append(len(ids))
            s += 1
        document_starts.append(s)
    return TokenizedCorpus(np.array(ids, np.int32), np.array(sentence_starts), np.array(document_starts))


@pytest.mark.fast
def test_packing_with_next_sentence_prediction():
    corpus = hand_corpus([[5, 7, 6, 9, 4, 8, 5, 6]] * 20)
    max_len = 24
    ex = make_examples(corpus, max_len, SPECIAL, nsp=True, seed=0, short_seq_prob=0.0)
    assert ex.input_ids.shape[1] == max_len and (ex.lengths <= max_len).all()
    assert abs(ex.next_sentence_label.mean() - 0.5) < 0.15  # about half are random next segments
    doc_of = lambda token: (token - 1000) // 8  # noqa: E731
    for row, n, types, label in zip(ex.input_ids, ex.lengths, ex.token_type_ids, ex.next_sentence_label):
        assert row[0] == 101 and row[n - 1] == 102 and (row[n:] == 0).all()
        seps = np.flatnonzero(row[:n] == 102)
        assert len(seps) == 2
        a, b = row[1:seps[0]], row[seps[0] + 1:n - 1]
        assert len(a) and len(b)
        assert (types[:seps[0] + 1] == 0).all() and (types[seps[0] + 1:n] == 1).all()
        if label == 0:  # IsNext: B continues A in the same document, A's sentences come first
            assert doc_of(a[0]) == doc_of(b[-1]) and a.max() <= b.min()
        else:  # NotNext: B comes from another document
            assert doc_of(b[0]) != doc_of(a[0])


@pytest.mark.fast
def test_next_segment_pairs_always_continue_and_split_near_the_middle():
    corpus = hand_corpus([[5, 7, 6, 9, 4, 8, 5, 6], [12], [3, 3, 3, 3, 3, 3]] * 5)
    ex = make_examples(corpus, 64, SPECIAL, nsp=True, seed=0, short_seq_prob=0.0, random_next=0.0)
    assert len(ex) > 0 and (ex.next_sentence_label == 0).all()
    for row, n in zip(ex.input_ids, ex.lengths):
        seps = np.flatnonzero(row[:n] == 102)
        a, b = row[1:seps[0]], row[seps[0] + 1:n - 1]
        assert len(a) and len(b)
        assert b.min() == a.max() + 1  # B is the sentence right after A's last one
        # Whole sentences on each side (64 tokens hold a whole document here): the cut lies at the
        # sentence boundary nearest the middle of the two.
        ends = np.cumsum(np.unique(np.concatenate([a, b]), return_counts=True)[1])[:-1]
        assert abs(len(a) - (len(a) + len(b)) / 2) == np.abs(ends - (len(a) + len(b)) / 2).min()
    # The one-sentence documents (12 tokens) have no second segment and are left out.
    assert not any(((row == 1000 + 8) | (row == 1000 + 23)).any() for row in ex.input_ids)


@pytest.mark.fast
def test_random_next_must_be_a_probability():
    with pytest.raises(ValueError, match=r"random_next must be a number in \[0, 1\), got 1.5"):
        make_examples(hand_corpus([[5, 5], [5, 5]]), 24, SPECIAL, random_next=1.5)


@pytest.mark.fast
def test_packing_without_nsp_fills_one_segment_and_uses_every_sentence_once():
    corpus = hand_corpus([[5, 7, 6, 9, 4, 8]] * 3)
    ex = make_examples(corpus, 20, SPECIAL, nsp=False, seed=1, short_seq_prob=0.0)
    assert (ex.token_type_ids == 0).all() and (ex.next_sentence_label == 0).all()
    tokens = np.concatenate([row[1:n - 1] for row, n in zip(ex.input_ids, ex.lengths)])
    assert (np.diff(tokens) >= 0).all()  # in corpus order
    assert set(np.unique(tokens)) == set(range(1000, 1018))  # every sentence, some truncated


@pytest.mark.fast
def test_packing_is_repeatable_and_the_seed_matters():
    corpus = hand_corpus([[5, 7, 6, 9, 4, 8, 5, 6]] * 10)
    a, b = (make_examples(corpus, 24, SPECIAL, seed=3) for _ in range(2))
    c = make_examples(corpus, 24, SPECIAL, seed=4)
    assert np.array_equal(a.input_ids, b.input_ids)
    assert not np.array_equal(a.input_ids, c.input_ids)


@pytest.mark.fast
def test_bad_max_len():
    with pytest.raises(ValueError, match="max_len must be an int from 8 to 512"):
        make_examples(hand_corpus([[5], [5]]), 4, SPECIAL)


@pytest.mark.slow
def test_the_pretraining_text_never_holds_a_dev_or_test_sentence(tmp_path, data_dir, model_dir):
    """The whole pre-training text (corpus + benchmark train sentences), compared on token ids with every dev
    and test sentence of STSb, SICK and SNLI."""
    tokenizer = load_tokenizer(model_dir)
    held_out = held_out_sentences(data_dir)
    held_ids = {tuple(tokenizer._text_to_ids(s)) for s in held_out}
    assert len(held_out) > 20_000
    train_file = write_train_sentences(tmp_path / "train_sentences.txt", data_dir)
    paths = sorted(glob.glob(str(Path(data_dir) / "corpus" / "*.txt"))) + [str(train_file)]

    def sentences(corpus):
        return {tuple(corpus.ids[a:b].tolist()) for a, b in zip(corpus.sentence_starts[:-1], corpus.sentence_starts[1:])}

    pretraining = tokenize_corpus(paths, tokenizer, tmp_path / "cache", exclude=held_out)
    assert sentences(pretraining) & held_ids == set()
    # The filter on token ids is needed: the train sentences hold a test sentence in another spelling
    # ("some people are shopping ." in SICK train, "some people are shopping." in a test split).
    raw = tokenize_corpus(paths, tokenizer)
    assert sentences(raw) & held_ids
    assert len(pretraining.ids) > 5_000_000


def test_a_file_that_is_not_there(tmp_path):
    with pytest.raises(CorpusError, match="is not a file"):
        read_documents([tmp_path / "missing.txt"])
    with pytest.raises(CorpusError, match="no files given"):
        read_documents([])


@pytest.mark.fast
def test_the_corpus_vocabulary_keeps_the_pieces_the_text_uses_often_and_every_character(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "cats", "dog", "rare", "never",
             "c", "a", "t", "s", "d", "o", "g", "r", "e", "n", "v", "##a", "##t", "##s", "##o", "##g", "##e", "##r",
             "##n", "##v", "##at"]
    tokenizer = BertTokenizer({piece: i for i, piece in enumerate(vocab)})
    text = tmp_path / "corpus.txt"
    text.write_text("the cats the cats the cats. the dog the dog the dog.\n\nthe rare cat.\n")
    corpus = tokenize_corpus([text], tokenizer)
    kept = corpus_vocabulary(corpus, tokenizer, min_count=3)
    # the: 7 times, cats: 3, dog: 3 stay; cat, rare (once each), never and ##at (never) go. Every character of
    # the pieces in use (t h e c a s d o g r .) stays in both forms where the vocabulary has it; v and n were
    # only in "never", which the text does not use.
    assert list(kept) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cats", "dog",
                          "c", "a", "t", "s", "d", "o", "g", "r", "e", "##a", "##t", "##s", "##o", "##g", "##e", "##r"]
    assert list(kept.values()) == list(range(len(kept)))
    small = BertTokenizer(kept)
    # A word whose piece was dropped falls back to the characters it is made of: no [UNK].
    assert small.tokenize("the cat rare") == ["the", "c", "##a", "##t", "r", "##a", "##r", "##e"]
    with pytest.raises(ValueError, match="min_count"):
        corpus_vocabulary(corpus, tokenizer, min_count=0)
