"""minisbert: BERT and Sentence-BERT written from scratch, exact against Hugging Face.

    text ──tokenizer──▶ ids ──BertModel──▶ token vectors ──pooling──▶ sentence vectors ──▶ similarity

The top level of the package is the book. Read its chapters in this order:

     1. ``tokenizer.py``     text to WordPiece ids: cleaning, lower-casing, punctuation, greedy longest match
     2. ``config.py``        ``BertConfig``: the model's sizes, read from a checkpoint's config.json
     3. ``bert.py``          the whole BERT: embeddings, self-attention, feed-forward, layers, pooler, heads
     4. ``pooling.py``       token vectors to one sentence vector: mean, max, CLS
     5. ``sbert.py``         ``SentenceBert``: the siamese bi-encoder, ``encode``, model folders
     6. ``similarity.py``    cosine, dot, Euclidean, Manhattan; semantic search; paraphrase mining
     7. ``quantization.py``  smaller sentence vectors (int8, binary) and search over them with rescoring
     8. ``examples.py``      training examples: sentence pairs with a label or score, triplets, NLI triplets
     9. ``objectives.py``    SBERT's classification, regression and triplet objectives; in-batch negatives
    10. ``optimization.py``  what both training loops share: seed, AdamW, schedule, clipping, run state
    11. ``training.py``      the SBERT fine-tuning loop (``train``)
    12. ``evaluate.py``      Spearman and Pearson on STS data, as the paper scores
    13. ``cross_encoder.py`` both sentences through BERT together, and what that costs
    14. ``masking.py``       BERT's masked-language-model masking (15%, 80/10/10)
    15. ``pretraining.py``   pre-training BERT itself: MLM (and NSP), from scratch (``pretrain``)
    16. ``fill_mask.py``     asking a pre-trained BERT to fill in ``[MASK]``

The machinery lives in named subpackages, each with a README: ``speed/`` (the fast paths, each beside
its plain twin), ``io/`` (files, weights, fetching, data sets, checkpoints), ``checks/`` (argument checks
and error types), ``grading/`` (the exercises' grader), ``parity/`` (the layer-by-layer diff against
transformers), ``views/`` (HTML views of attention and vectors), ``commands/`` (the command line).

Everything a user needs is importable from here, under the names transformers and sentence-transformers
users know::

    from minisbert import BertTokenizer, BertModel, SentenceBert, CrossEncoder, cos_sim, semantic_search
    from minisbert import train, TrainConfig, RegressionObjective, fetch

``train``, ``pretrain`` and ``fetch`` are functions; their modules are ``minisbert.training``,
``minisbert.pretraining`` and ``minisbert.io.fetch``.
"""

from . import _moved
from .bert import BertForMaskedLM, BertForPreTraining, BertModel, BertModelOutput
from .checks.errors import UserError
from .config import BertConfig
from .cross_encoder import CrossEncoder, CrossEncoderObjective
from .evaluate import evaluate_sts
from .examples import PairExample, TripletExample
from .io.data import DataError, DataNotFoundError, load_sick, load_snli, load_stsb
from .io.fetch import FetchError, fetch, fetch_data
from .io.weights import WeightsError
from .objectives import (ClassificationObjective, MultipleNegativesRankingObjective, RegressionObjective,
                         TripletObjective)
from .pooling import Pooling
from .pretraining import PretrainConfig, pretrain
from .quantization import quantize_embeddings, semantic_search_quantized
from .sbert import SentenceBert
from .similarity import (community_detection, cos_sim, dot_score, euclidean_sim, manhattan_sim, paraphrase_mining,
                         semantic_search)
from .tokenizer import BertTokenizer
from .training import TrainConfig, train

_moved.install()  # old module paths (minisbert.fast, minisbert.weights, ...) reach their new homes

__all__ = [
    # tokenizer and models
    "BertTokenizer", "BertConfig", "BertModel", "BertModelOutput", "BertForMaskedLM", "BertForPreTraining",
    "Pooling", "SentenceBert", "CrossEncoder",
    # comparing vectors
    "cos_sim", "dot_score", "euclidean_sim", "manhattan_sim", "semantic_search", "paraphrase_mining",
    "community_detection", "quantize_embeddings", "semantic_search_quantized",
    # training and evaluation
    "train", "TrainConfig", "ClassificationObjective", "RegressionObjective", "TripletObjective",
    "MultipleNegativesRankingObjective", "CrossEncoderObjective", "PairExample", "TripletExample", "pretrain", "PretrainConfig", "evaluate_sts",
    # data and weights
    "fetch", "fetch_data", "load_stsb", "load_sick", "load_snli",
    # errors
    "UserError", "WeightsError", "DataError", "DataNotFoundError", "FetchError",
]
__version__ = "0.1.0"
