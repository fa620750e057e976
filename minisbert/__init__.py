"""minisbert: BERT and Sentence-BERT written from scratch, exact against Hugging Face.

    text ──tokenizer──▶ ids ──BertModel──▶ token vectors ──pooling──▶ sentence vectors ──▶ similarity
"""

from .bert import BertForMaskedLM, BertForPreTraining, BertModel, BertModelOutput
from .config import BertConfig
from .pooling import Pooling
from .sbert import SentenceBert
from .weights import WeightsError

__all__ = ["BertConfig", "BertForMaskedLM", "BertForPreTraining", "BertModel", "BertModelOutput", "Pooling", "SentenceBert", "WeightsError"]
__version__ = "0.1.0"
