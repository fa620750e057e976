"""minisbert: BERT and Sentence-BERT written from scratch, exact against Hugging Face.

    text ──tokenizer──▶ ids ──BertModel──▶ token vectors ──pooling──▶ sentence vectors ──▶ similarity

Everything a user needs is importable from here, under the names transformers and sentence-transformers
users know::

    from minisbert import BertTokenizer, BertModel, SentenceBert, CrossEncoder, cos_sim, semantic_search
    from minisbert import train, TrainConfig, RegressionObjective, fetch

Each name lives in the module that explains it (``minisbert.bert``, ``minisbert.sbert``, ...). Three of
them share their module's name: ``minisbert.fetch``, ``minisbert.train`` and ``minisbert.pretrain`` are the
functions; ``from minisbert.train import TrainState`` (or ``importlib.import_module("minisbert.train")``)
still reaches the modules.
"""

from .bert import BertForMaskedLM, BertForPreTraining, BertModel, BertModelOutput
from .config import BertConfig
from .cross_encoder import CrossEncoder, CrossEncoderObjective
from .data import DataError, DataNotFoundError, load_sick, load_snli, load_stsb
from .errors import UserError
from .evaluate import evaluate_sts
from .examples import PairExample, TripletExample
from .fetch import FetchError, fetch, fetch_data
from .objectives import ClassificationObjective, RegressionObjective, TripletObjective
from .pooling import Pooling
from .pretrain import PretrainConfig, pretrain
from .sbert import SentenceBert
from .similarity import cos_sim, dot_score, euclidean_sim, manhattan_sim, paraphrase_mining, semantic_search
from .tokenizer import BertTokenizer
from .train import TrainConfig, train
from .weights import WeightsError

__all__ = [
    # tokenizer and models
    "BertTokenizer", "BertConfig", "BertModel", "BertModelOutput", "BertForMaskedLM", "BertForPreTraining",
    "Pooling", "SentenceBert", "CrossEncoder",
    # comparing vectors
    "cos_sim", "dot_score", "euclidean_sim", "manhattan_sim", "semantic_search", "paraphrase_mining",
    # training and evaluation
    "train", "TrainConfig", "ClassificationObjective", "RegressionObjective", "TripletObjective",
    "CrossEncoderObjective", "PairExample", "TripletExample", "pretrain", "PretrainConfig", "evaluate_sts",
    # data and weights
    "fetch", "fetch_data", "load_stsb", "load_sick", "load_snli",
    # errors
    "UserError", "WeightsError", "DataError", "DataNotFoundError", "FetchError",
]
__version__ = "0.1.0"
