"""The table of exercises, in the order the data flows: one module per exercise, each with its ``check``
and its ``EXERCISE`` record. To add one, write ``exercises/<name>.py`` for students and a module here, and
add it to the list below."""

from ..exercise import Exercise
from . import (
               attention_head,
               basic_tokenize,
               bert_layer,
               classification_loss,
               embeddings,
               in_batch_negatives_loss,
               mlm_mask,
               multi_head_attention,
               paraphrase_mining,
               pooling,
               regression_loss,
               triplet_loss,
               wordpiece,
)

EXERCISES: dict[str, Exercise] = {m.EXERCISE.name: m.EXERCISE for m in [
    basic_tokenize, wordpiece, embeddings, attention_head, multi_head_attention, bert_layer, pooling,
    classification_loss, regression_loss, triplet_loss, mlm_mask, paraphrase_mining, in_batch_negatives_loss,
]}

TOKENIZER_EXERCISES = {name for name, e in EXERCISES.items() if e.tokenizer_only}  # graded without the weights
