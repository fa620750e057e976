"""Pre-training BERT from scratch: masked language model (and next-sentence prediction), readable top to bottom.

Devlin et al. 2019, section 3.1 and appendix A.2; the small sizes are Turc et al. 2019 ("Well-Read Students
Learn Better"). The loop is the fine-tuning loop's machinery (``minisbert.train``: AdamW without decay on
biases and LayerNorm, linear warm-up then linear decay, gradient clipping; ``minisbert.io.checkpoint``:
atomic checkpoints and exact resume) around a different step:

    corpus ──tokenize once (cached)──▶ sentences ──pack──▶ [CLS] A [SEP] B [SEP] examples   (minisbert.io.corpus)
    for each step:
        batch = the next batch_size examples of this epoch's shuffled order
        inputs, labels = mask_tokens(batch)                   15% selected, 80/10/10   (minisbert.masking)
        loss = MLM cross-entropy at the selected tokens (+ NSP cross-entropy, or + the next-segment loss)
        backward, clip to 1.0, AdamW step, schedule step
        every eval_every steps: held-out masked-token accuracy and perplexity, written to pretrain_log.json

Masks are drawn anew for every batch (RoBERTa's dynamic masking) from a generator seeded by (seed, step),
and the order of each epoch from one seeded by (seed, epoch): a run stopped and resumed from its
checkpoint draws exactly what an uninterrupted run draws, so it ends with the same parameters.

The vocabulary projection, a (rows, H) @ (H, 30,522) product, is the largest in the model; it runs only at
the ~15% of positions that are scored (``decode="labelled"``), which changes neither the loss nor any
gradient.

``contrastive=True`` swaps next-sentence prediction for a sentence-vector task: segments A and B (B
always the text that follows A) are encoded apart, as ``[CLS] A [SEP]`` and ``[CLS] B [SEP]`` in one
batch of 2 × batch_size rows, and each A's mean-pooled vector must pick its own B among the batch's,
with in-batch negatives (``MultipleNegativesRankingObjective``'s loss, both directions, scale 20). It is
Quick-Thoughts' task (Logeswaran & Lee 2018) on the vectors SBERT pools, trained beside the masked LM
from the same forward pass: the masks are the noise of its two views. ``tie_word_embeddings=False``
gives the MLM decoder a matrix of its own, and ``freeze_word_embeddings=True`` then leaves the word
vectors at their random start. ``contiguous_batches=True`` makes each batch consecutive examples of the
text, so that a segment's negatives are its neighbours, as Quick-Thoughts' were (``epoch_order``). What
each does for SBERT trained on the result: docs/pretraining.md.

Where the CPU has bf16 instructions the forward and backward run under ``torch.autocast`` in bfloat16
(matrix products in bf16, LayerNorm, softmax and the loss in fp32; the weights and Adam stay fp32).

Under ``torchrun --nproc_per_node N`` (``minisbert/speed/distributed.py``) every rank draws the same global batch
of N × batch_size examples and the same masks, trains on its own rows, and DDP averages the gradients;
each rank's MLM loss is the mean over its own masked tokens, so the step equals one process's up to how
masked tokens are weighted between ranks. Rank 0 alone evaluates, logs and writes.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .bert import BertForMaskedLM, BertForPreTraining, set_dropout
from .checks import check_int_range, check_positive_int, check_probability, is_number
from .config import BertConfig
from .io.checkpoint import CHECKPOINT_STATE, MAY_CHANGE, data_digest, load_checkpoint, save_checkpoint
from .io.corpus import CorpusError, Examples, corpus_vocabulary, make_examples, tokenize_corpus
from .io.files import check_writable, read_json, remove_stale_staging, write_folder, write_json
from .io.weights import resolve_model_dir
from .masking import mask_tokens, word_starts
from .objectives import MultipleNegativesRankingObjective
from .pooling import mean_pooling
from .similarity import cos_sim
from .optimization import clip_grad_norm, linear_warmup_then_decay, make_optimizer, seed_everything
from .speed import distributed
from .speed.batching import progress_bar
from .speed.hardware import choose_precision, describe_cpu
from .tokenizer import BertTokenizer, load_tokenizer

#: Turc et al. 2019's compact BERTs: (layers, hidden size, heads); the feed-forward width is 4H.
SIZES = {
    "tiny": (2, 128, 2),
    "mini": (4, 256, 4),
    "small": (4, 512, 8),
    "medium": (8, 512, 8),
    "base": (12, 768, 12),
}
PRETRAIN_LOG = "pretrain_log.json"
# Fewer held-out examples than this cannot be scored meaningfully: evaluate on a slice of the training text.
MIN_HELD_OUT_EXAMPLES = 8
HELD_OUT = "held-out documents"
TRAINING_SLICE = "a slice of the training text (the held-out documents give too few examples)"


def bert_config(size: str, vocab_size: int, max_len: int = 512, tie_word_embeddings: bool = True) -> BertConfig:
    """A ``BertConfig`` for a named size (``tiny``, ``mini``, ``small``, ``medium``, ``base``) or a custom
    one written ``L4-H256`` or ``L4-H256-A4`` (heads default to H / 64, as in Turc et al.)."""
    if size in SIZES:
        layers, hidden, heads = SIZES[size]
    else:
        m = re.fullmatch(r"L(\d+)-H(\d+)(?:-A(\d+))?", str(size))
        if not m:
            raise ValueError(f"config: unknown size {size!r}; use one of {', '.join(SIZES)} or a custom "
                             f"'L<layers>-H<hidden>[-A<heads>]' such as 'L4-H256-A4'")
        layers, hidden = int(m[1]), int(m[2])
        heads = int(m[3]) if m[3] else max(1, hidden // 64)
    return BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                      num_attention_heads=heads, intermediate_size=4 * hidden,
                      max_position_embeddings=max(512, max_len), tie_word_embeddings=tie_word_embeddings)


@dataclass
class PretrainConfig:
    """Defaults for a small BERT on two CPU cores; BERT-base used batch 256, lr 1e-4, 1M steps."""

    size: str = "mini"  # a name in SIZES or "L<layers>-H<hidden>[-A<heads>]"
    max_len: int = 128  # tokens per example, [CLS] and [SEP] included (BERT: 128 for 90% of its steps)
    batch_size: int = 64
    lr: float = 5e-4  # small models take larger steps than BERT-base's 1e-4 (Turc et al. tune 1e-4 to 1e-3)
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06  # RoBERTa's 6%; BERT used 10,000 of 1M steps
    max_grad_norm: float = 1.0
    max_steps: int | None = None  # the length of the run: a number of steps ...
    minutes: float | None = None  # ... or a time budget, turned into steps after timing a few
    nsp: bool = True  # next-sentence prediction (RoBERTa drops it)
    contrastive: bool = False  # the next-segment task on pooled vectors instead of NSP (see the module's docstring)
    tie_word_embeddings: bool = True  # False: the MLM decoder gets a matrix of its own (BertConfig's option)
    freeze_word_embeddings: bool = False  # True: the word vectors keep their random initialisation (untied only)
    contiguous_batches: bool = False  # True: each batch is consecutive examples of the text (Quick-Thoughts')
    whole_word: bool = False  # whole-word masking
    mlm_probability: float = 0.15
    dropout: float = 0.1  # while pre-training only (BERT's 0.1); the saved config.json keeps 0.1 for fine-tuning
    seed: int = 0
    precision: str = "auto"  # "auto": bf16 where the CPU has bf16 instructions, else fp32
    device: str = "cpu"
    eval_every: int = 200  # steps between held-out evaluations
    eval_examples: int = 512  # held-out examples scored at each evaluation
    checkpoint_every: int = 500  # steps between checkpoints
    stop_after_steps: int | None = None  # stop early (with a checkpoint) after this many steps; for tests
    use_sdpa: bool = True  # the fused attention kernel (the same maths)
    progress: bool | None = None  # a tqdm bar; None: on a long run (minisbert.speed.batching.show_progress)

    def check(self) -> None:
        bert_config(self.size, 8)
        check_int_range(self.max_len, "max_len", 8, 512, " (the position table has 512 rows)")
        for name in ("batch_size", "eval_every", "eval_examples", "checkpoint_every"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.max_steps, "max_steps", allow_none=True)
        check_positive_int(self.stop_after_steps, "stop_after_steps", allow_none=True)
        if (self.max_steps is None) == (self.minutes is None):
            raise ValueError("give exactly one of max_steps and minutes")
        if self.minutes is not None and (not is_number(self.minutes) or not self.minutes > 0 or math.isinf(self.minutes)):
            raise ValueError(f"minutes must be a number > 0, got {self.minutes!r}")
        for name in ("lr", "mlm_probability"):
            value = getattr(self, name)
            if not is_number(value) or not 0 < value < 1:
                raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
        check_probability(self.dropout, "dropout")
        for name in ("contrastive", "tie_word_embeddings", "freeze_word_embeddings", "contiguous_batches"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.contrastive and self.nsp:
            raise ValueError("contrastive replaces next-sentence prediction: give nsp=False with contrastive=True")
        if self.freeze_word_embeddings and self.tie_word_embeddings:
            raise ValueError("freeze_word_embeddings needs tie_word_embeddings=False: a tied decoder would be frozen "
                             "with them")
        if self.contrastive and self.batch_size < 2:
            raise ValueError(f"contrastive needs batch_size >= 2 (each segment's negatives are the batch's other "
                             f"segments), got {self.batch_size}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must lie in [0, 1), got {self.warmup_ratio!r}")
        choose_precision(self.precision, self.device)


@dataclass
class PretrainState:
    """What a pre-training checkpoint remembers besides tensors."""

    step: int = 0
    total_steps: int = 0  # fixed at the start (from max_steps, or from minutes and the timed steps)
    tokens: int = 0  # real (non-padding) tokens trained on
    seconds: float = 0.0  # wall time of the training steps
    losses: list[float] = field(default_factory=list)  # every step's loss
    evals: list[dict] = field(default_factory=list)  # step, tokens, held-out loss, accuracy, perplexity


@dataclass
class PretrainData:
    """The packed examples: what is trained on and the held-out slice it is measured on."""

    train: Examples
    held_out: Examples
    special: dict[str, int]
    continuation: torch.Tensor  # (V,) bool: vocabulary entries that continue a word (##...)
    most_frequent_token: int  # the training targets' most frequent token, for the trivial baseline
    evaluated_on: str = HELD_OUT  # or TRAINING_SLICE when the held-out documents pack into too few examples


def corpus_tokenizer(paths: list, tokenizer, min_count: int, cache_dir=None, exclude=frozenset()) -> BertTokenizer:
    """``tokenizer`` with only the pieces that the text of ``paths`` uses ``min_count`` times or more
    (``minisbert.io.corpus.corpus_vocabulary``, which says why); the same lower-casing and accents."""
    full = tokenize_corpus(paths, tokenizer, cache_dir, exclude)
    vocab = corpus_vocabulary(full, tokenizer, min_count)
    return BertTokenizer(vocab, do_lower_case=tokenizer.do_lower_case, strip_accents=tokenizer.strip_accents,
                         tokenize_chinese_chars=tokenizer.tokenize_chinese_chars,
                         model_max_length=tokenizer.model_max_length)


def prepare_data(paths: list, tokenizer, config: PretrainConfig, cache_dir=None, exclude=frozenset(),
                 log=print) -> PretrainData:
    """Tokenize (cached) and pack the corpus; every 50th document (at least one) is held out.

    A small corpus may hold out documents that pack into no example, or too few to score (fewer than
    ``MIN_HELD_OUT_EXAMPLES``): then ``log`` says so, once, and the evaluations score a seeded slice of the
    training examples instead (``evaluated_on``, recorded in pretrain_log.json). Such scores measure
    fitting, not generalisation.
    """
    corpus = tokenize_corpus(paths, tokenizer, cache_dir, exclude)
    if corpus.num_documents < 2:
        raise CorpusError("corpus: needs at least 2 documents (separated by a blank line): one is held out "
                          "for evaluation, and next-sentence prediction draws from another document")
    held = [d for d in range(corpus.num_documents) if d % 50 == 49] or [corpus.num_documents - 1]
    held_set = set(held)
    train_docs = [d for d in range(corpus.num_documents) if d not in held_set]
    special = {"cls": tokenizer.cls_token_id, "sep": tokenizer.sep_token_id, "pad": tokenizer.pad_token_id,
               "mask": tokenizer.mask_token_id}
    pairs = config.nsp or config.contrastive  # two segments per example
    random_next = 0.0 if config.contrastive else 0.5  # the next-segment task pairs each A with its own next text
    train = make_examples(corpus, config.max_len, special, pairs, config.seed, documents=train_docs,
                          random_next=random_next)
    held_out = make_examples(corpus, config.max_len, special, pairs, config.seed + 1, documents=held,
                             random_next=random_next)
    evaluated_on = HELD_OUT
    rng = np.random.default_rng(config.seed + 2)
    if len(held_out) < MIN_HELD_OUT_EXAMPLES:
        log(f"held-out split: {len(held_out)} example(s) from {len(held)} held-out document(s), too few to "
            f"score; evaluating on {min(config.eval_examples, len(train))} training examples instead "
            f"(marked in {PRETRAIN_LOG})")
        held_out, evaluated_on = train, TRAINING_SLICE
    keep = np.sort(rng.permutation(len(held_out))[:config.eval_examples])
    held_out = Examples(*(getattr(held_out, f.name)[keep] for f in dataclasses.fields(Examples)))
    # The trivial baseline: always guess the training examples' most frequent (non-special) token.
    tokens = train.input_ids[train.input_ids > max(special["cls"], special["sep"], special["pad"], special["mask"])]
    most_frequent = int(np.bincount(tokens).argmax()) if tokens.size else special["mask"]
    vocab = sorted(tokenizer.vocab, key=tokenizer.vocab.get)
    continuation = torch.tensor([t.startswith("##") for t in vocab])
    return PretrainData(train, held_out, special, continuation, most_frequent, evaluated_on)


def to_batch(examples: Examples, index, data: PretrainData, config: PretrainConfig, generator: torch.Generator,
             vocab_size: int) -> dict[str, torch.Tensor]:
    """Rows ``index`` of ``examples``, trimmed to their longest, masked with ``generator``.

    With ``config.contrastive`` each row becomes two, ``[CLS] A [SEP]`` (rows 0..B-1) and ``[CLS] B [SEP]``
    (rows B..2B-1), all of segment type 0."""
    ids, lengths = examples.input_ids[index], examples.lengths[index]  # (B, max_len), (B,)
    token_type_ids = examples.token_type_ids[index]
    if config.contrastive:
        ids, lengths = split_segments(ids, token_type_ids, lengths, data.special)  # (2B, max_len // 2), (2B,)
        token_type_ids = np.zeros_like(ids, dtype=np.int8)
    length = int(lengths.max())
    input_ids = torch.from_numpy(ids[:, :length].astype(np.int64))  # (B, T), or (2B, T)
    attention_mask = torch.arange(length)[None, :] < torch.from_numpy(lengths.astype(np.int64))[:, None]
    special = (~attention_mask) | (input_ids == data.special["cls"]) | (input_ids == data.special["sep"])
    starts = word_starts(input_ids, data.continuation) if config.whole_word else None
    inputs, labels = mask_tokens(input_ids, special, vocab_size, data.special["mask"], generator,
                                 config.mlm_probability, starts)
    batch = {"input_ids": inputs, "attention_mask": attention_mask.long(), "labels": labels,
             "token_type_ids": torch.from_numpy(token_type_ids[:, :length].astype(np.int64))}
    if config.nsp:
        batch["next_sentence_label"] = torch.from_numpy(examples.next_sentence_label[index].astype(np.int64))
    return batch


def split_segments(input_ids: np.ndarray, token_type_ids: np.ndarray, lengths: np.ndarray,
                   special: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """``[CLS] A [SEP] B [SEP]`` rows (B, L) to ``[CLS] A [SEP]`` rows then ``[CLS] B [SEP]`` rows (2B, L // 2).

    Each half is cut to L // 2 tokens, its specials included, at the far side from the other (A keeps its
    end, B its start), so that the two stay adjacent text and the batch pads to half the width."""
    n, width = input_ids.shape
    half = width // 2
    out = np.full((2 * n, half), special["pad"], dtype=input_ids.dtype)
    out_lengths = np.zeros(2 * n, dtype=lengths.dtype)
    for i in range(n):
        a_end = int((token_type_ids[i, :lengths[i]] == 0).sum())  # [CLS] A [SEP]: the type-0 positions
        a = input_ids[i, max(1, a_end - 1 - (half - 2)):a_end - 1]  # A's last tokens, without [CLS] and [SEP]
        b = input_ids[i, a_end:lengths[i] - 1][:half - 2]  # B's first tokens, without its [SEP]
        for row, text in ((i, a), (n + i, b)):
            out[row, :len(text) + 2] = np.concatenate([[special["cls"]], text, [special["sep"]]])
            out_lengths[row] = len(text) + 2
    return out, out_lengths


# The next-segment task's loss: in-batch negatives, each A picking its B and each B its A, scale 20.
NEXT_SEGMENT = MultipleNegativesRankingObjective(model=None, scale=20.0, symmetric=True)


def epoch_order(n: int, batch: int, seed: int, contiguous: bool = False) -> torch.Tensor:
    """The order of one epoch's ``n`` examples, read ``batch`` at a time: a random permutation, or with
    ``contiguous`` the examples in runs of ``batch`` consecutive ones (from a random offset), the runs
    in random order, the few left over at the end.

    The examples are packed in the text's order, so a contiguous batch holds neighbouring passages of
    one document. Quick-Thoughts (Logeswaran & Lee 2018) built its batches so: the other
    segments of a chapter share its topic, names and style, and telling a segment's own next one from
    them takes more than its topic.
    """
    generator = torch.Generator().manual_seed(seed)
    if not contiguous:
        return torch.randperm(n, generator=generator)
    offset = int(torch.randint(batch, (1,), generator=generator)) if n >= 2 * batch else 0
    starts = torch.arange(offset, n - batch + 1, batch)  # (R,): the runs' first examples
    runs = starts[torch.randperm(len(starts), generator=generator)]  # (R,)
    ordered = (runs[:, None] + torch.arange(batch)).flatten()  # (R * batch,)
    covered = torch.zeros(n, dtype=torch.bool)
    covered[ordered] = True
    return torch.cat([ordered, (~covered).nonzero().squeeze(1)])  # (n,)


def segment_vectors(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The mean-pooled vectors (what SBERT pools) of a (2B, T, H) batch whose rows B..2B-1 follow rows 0..B-1:
    the A vectors and the B vectors, (B, H) each."""
    return mean_pooling(last_hidden_state.float(), attention_mask).chunk(2)  # (2B, H) -> 2 × (B, H)


def next_segment_loss(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The contrastive task's loss: each A picks its B among the batch's, and each B its A."""
    return NEXT_SEGMENT.loss_from_embeddings(*segment_vectors(last_hidden_state, attention_mask))


def next_segment_accuracy(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> int:
    """How many of the batch's A segments have their own B as the most similar of the batch's B segments."""
    a, b = segment_vectors(last_hidden_state, attention_mask)
    scores = cos_sim(a, b)  # (B, B): A_i against every B_j
    return int((scores.argmax(-1) == torch.arange(len(a), device=a.device)).sum())


@torch.no_grad()
def evaluate_mlm(model: nn.Module, data: PretrainData, config: PretrainConfig, batch_size: int = 64) -> dict:
    """Held-out masked-token loss, accuracy and perplexity (and NSP accuracy), with fixed masks."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(12345)  # the same masks at every evaluation
    loss_sum, correct, count, nsp_correct, baseline, next_correct = 0.0, 0, 0, 0, 0, 0
    examples = data.held_out
    for start in range(0, len(examples), batch_size):
        index = np.arange(start, min(start + batch_size, len(examples)))
        batch = _to_device(to_batch(examples, index, data, config, generator, model.config.vocab_size), config.device)
        with _autocast(config):
            out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], decode="labelled",
                        labels=batch["labels"], output_hidden_states=config.contrastive)
        targets = batch["labels"][batch["labels"] != -100]
        logits = out.prediction_logits.float()
        loss_sum += torch.nn.functional.cross_entropy(logits, targets, reduction="sum").item()
        correct += int((logits.argmax(-1) == targets).sum())
        baseline += int((targets == data.most_frequent_token).sum())
        count += len(targets)
        if config.nsp:
            nsp_correct += int((out.seq_relationship_logits.argmax(-1) == batch["next_sentence_label"]).sum())
        if config.contrastive and len(index) > 1:
            next_correct += next_segment_accuracy(out.hidden_states[-1], batch["attention_mask"])
    model.train(was_training)
    if count == 0:  # nothing to score (no example, or no maskable token): say so, do not divide by zero
        result = {"mlm_loss": None, "perplexity": None, "accuracy": None, "most_frequent_accuracy": None,
                  "masked_tokens": 0}
    else:
        loss = loss_sum / count
        result = {"mlm_loss": loss, "perplexity": math.exp(min(loss, 50.0)), "accuracy": correct / count,
                  "most_frequent_accuracy": baseline / count, "masked_tokens": count}
    if config.nsp:
        result["nsp_accuracy"] = nsp_correct / len(examples) if len(examples) else None
    if config.contrastive:  # chance: one in the evaluation batch's size
        result["next_segment_accuracy"] = next_correct / len(examples) if len(examples) else None
        result["next_segment_batch"] = min(batch_size, len(examples))
    return result


def pretrain(paths: list, out: str | Path, config: PretrainConfig | None = None, *, tokenizer=None,
             cache_dir=None, exclude=frozenset(), resume: bool = False, checkpoint_dir=None,
             log=print) -> PretrainState:
    """Pre-train a BERT on the text files ``paths`` and write it to ``out`` as a BERT folder.

    ``out`` ends holding ``config.json``, ``model.safetensors`` (the encoder and the heads: load it with
    ``BertForPreTraining``/``BertForMaskedLM`` here or in transformers), ``vocab.txt`` and
    ``tokenizer_config.json``, and ``pretrain_log.json`` (settings, held-out evaluations, every step's loss).
    ``tokenizer``: a ``BertTokenizer`` (default: all-MiniLM-L6-v2's uncased WordPiece vocabulary).
    """

    # 0. Check everything before the first step.
    config = config or PretrainConfig()
    config.check()
    precision = choose_precision(config.precision, config.device)
    world = distributed.setup(config.device)  # one process, or a rank of a torchrun job
    if world.distributed:  # a GPU per rank; rank 0 alone logs and writes
        config = dataclasses.replace(config, device=str(distributed.rank_device(config.device, world)))
        log = log if world.is_main else (lambda *args, **kwargs: None)
    out = Path(out)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else out.with_name(out.name + "-checkpoint")
    # The output folders: writable and replaceable now, not after the run (a run that trains for an hour
    # and then cannot write is a lost hour). What a killed earlier write of them left is removed.
    check_writable(out, name="out")
    check_writable(checkpoint_dir, markers=(CHECKPOINT_STATE,), what="checkpoint folder", name="checkpoint_dir")
    if resume and not (checkpoint_dir / CHECKPOINT_STATE).is_file():
        raise FileNotFoundError(f"cannot resume: no checkpoint in {checkpoint_dir}")
    if world.is_main:
        for stale in remove_stale_staging(out) + remove_stale_staging(checkpoint_dir):
            log(f"removed {stale}, left by an interrupted write")
    tokenizer = tokenizer or load_tokenizer(resolve_model_dir("all-MiniLM-L6-v2"))
    log(f"cpu: {describe_cpu()}; precision {precision} on {config.device}")

    # 1. Data: tokenized once (cached), packed into examples, a held-out slice set aside.
    data = prepare_data(paths, tokenizer, config, cache_dir, exclude, log=log)
    log(f"data: {len(data.train):,} training examples, {len(data.held_out):,} held out")

    # 2. The model, from the seed alone.
    seed_everything(config.seed)
    model_config = bert_config(config.size, len(tokenizer.vocab), config.max_len, config.tie_word_embeddings)
    model = _new_model(model_config, config)
    optimizer, names = make_optimizer(model, config)

    # 3. How many steps: given, saved in the checkpoint, or what fits the time budget.
    global_batch = world.size * config.batch_size  # under torchrun: batch_size per rank
    steps_per_epoch = len(data.train) // global_batch
    if steps_per_epoch == 0:
        raise CorpusError(f"corpus: {len(data.train)} examples are fewer than one batch of {global_batch}")
    state = PretrainState()
    if resume and config.max_steps is None:  # a time budget was turned into steps when the run began
        total_steps = _saved_state(checkpoint_dir)["total_steps"]
    elif config.max_steps is not None:
        total_steps = config.max_steps
    else:
        seconds = _time_steps(model, optimizer, data, config)
        total_steps = max(1, int(0.95 * config.minutes * 60 / seconds))  # 5% for checkpoints and the rest
        total_steps = distributed.broadcast_int(total_steps, world)  # rank 0's timing decides for all
        log(f"budget: {config.minutes:g} min at {seconds:.3f} s/step -> {total_steps:,} steps")
        seed_everything(config.seed)  # the timing steps drew random numbers; start again from the seed
        model = _new_model(model_config, config)
        optimizer, names = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, linear_warmup_then_decay(math.ceil(config.warmup_ratio * total_steps), total_steps))
    # What defines the run (a resumed run must match it) and what may change on resume (docs/hardening.md).
    run = {"data_sha256": data_digest(data.train), "examples": len(data.train), "batch_size": config.batch_size,
           "seed": config.seed, "size": config.size, "max_len": config.max_len, "nsp": config.nsp,
           "whole_word": config.whole_word, "mlm_probability": config.mlm_probability, "dropout": config.dropout,
           "lr": config.lr, "weight_decay": config.weight_decay, "warmup_ratio": config.warmup_ratio,
           "max_grad_norm": config.max_grad_norm, "precision": precision, "total_steps": total_steps,
           "model": dataclasses.asdict(model_config)}
    run |= {"world_size": world.size} if world.distributed else {}
    run |= {"contrastive": True} if config.contrastive else {}
    run |= {"freeze_word_embeddings": True} if config.freeze_word_embeddings else {}
    run |= {"contiguous_batches": True} if config.contiguous_batches else {}
    run[MAY_CHANGE] = {"eval_every": config.eval_every, "eval_examples": config.eval_examples,
                       "checkpoint_every": config.checkpoint_every, "stop_after_steps": config.stop_after_steps,
                       "device": str(config.device), "use_sdpa": config.use_sdpa}
    if resume:
        state = load_checkpoint(checkpoint_dir, model, optimizer, scheduler, names, run, state_type=PretrainState,
                                log=log)
        log(f"resumed at step {state.step:,} of {total_steps:,}")
    state.total_steps = total_steps
    stepper = distributed.wrap(model, world)  # the model itself, or its DDP wrapper

    # 4. The loop. Under torchrun every rank masks the same global batch and trains on its own rows;
    #    the step count alone ends the run (a clock would stop the ranks at different steps).
    model.train()
    bar = _progress(config.progress if world.is_main else False, state.step, total_steps)
    timed = config.minutes is not None and not resume and not world.distributed
    deadline = time.monotonic() + config.minutes * 60 if timed else None
    while state.step < total_steps:
        epoch, b = divmod(state.step, steps_per_epoch)
        order = epoch_order(len(data.train), global_batch, config.seed * 1_000_003 + epoch, config.contiguous_batches)
        index = order[b * global_batch:(b + 1) * global_batch].numpy()
        masks = torch.Generator().manual_seed(config.seed * 1_000_003 + 7919 * state.step + 1)
        batch = to_batch(data.train, index, data, config, masks, model_config.vocab_size)
        tokens = int(batch["attention_mask"].sum())
        if world.distributed:  # this rank's rows of the global batch
            rows = slice(world.rank * config.batch_size, (world.rank + 1) * config.batch_size)
            batch = {k: v[rows] for k, v in batch.items()}
        batch = _to_device(batch, config.device)

        started = time.perf_counter()
        loss = train_step(stepper, optimizer, batch, config)
        loss = distributed.weighted_mean(loss, 1.0, world)  # the ranks' mean, for the log
        scheduler.step()
        state.seconds += time.perf_counter() - started
        state.step += 1
        state.tokens += tokens
        state.losses.append(loss)
        _show(bar, state)

        last = state.step == total_steps or (deadline is not None and time.monotonic() > deadline)
        if (state.step % config.eval_every == 0 or last) and world.is_main:
            state.evals.append({"step": state.step, "tokens": state.tokens, "seconds": state.seconds,
                                **evaluate_mlm(model, data, config)})
            e = state.evals[-1]
            where = "held-out" if data.evaluated_on == HELD_OUT else "training-slice"
            if e["masked_tokens"]:
                log(f"step {state.step:,}: {where} MLM loss {e['mlm_loss']:.3f}, accuracy {e['accuracy']:.3f} "
                    f"(most frequent token {e['most_frequent_accuracy']:.3f}), perplexity {e['perplexity']:.1f}"
                    + (f", next segment {e['next_segment_accuracy']:.3f} of {e['next_segment_batch']}"
                       if e.get("next_segment_accuracy") is not None else ""))
            else:
                log(f"step {state.step:,}: no masked tokens to score")
        stopping = config.stop_after_steps is not None and state.step >= config.stop_after_steps
        if (state.step % config.checkpoint_every == 0 or stopping or last) and world.is_main:
            save_checkpoint(checkpoint_dir, model, optimizer, scheduler, names, state, run)
        distributed.barrier(world)
        if stopping:
            _close(bar)
            return state
        if last:
            break
    _close(bar)

    # 5. The BERT folder.
    settings = dataclasses.asdict(config) | {"precision_used": precision, "cpu": describe_cpu(),
                                             "processes": world.size, "evaluated_on": data.evaluated_on}
    if world.is_main:
        write_folder(out, lambda folder: _write_bert_folder(folder, model, tokenizer, state, settings))
        log(f"wrote {out}")
    return state


def _new_model(model_config, config: PretrainConfig) -> nn.Module:
    """BertForPreTraining (MLM + NSP) or BertForMaskedLM, from the current random state."""
    model = (BertForPreTraining if config.nsp else BertForMaskedLM)(model_config).to(config.device)
    model.bert.use_sdpa = config.use_sdpa
    # Frozen, each piece keeps its own random vector, nearly orthogonal to every other: the encoder learns
    # to read them, and the word vectors are left as a random BERT's (docs/pretraining.md says why).
    model.bert.embeddings.word_embeddings.weight.requires_grad_(not config.freeze_word_embeddings)
    return set_dropout(model, config.dropout)


def _write_bert_folder(folder: Path, model, tokenizer, state: PretrainState, settings: dict) -> None:
    model.to("cpu").save_pretrained(folder)
    tokenizer.save(folder)
    write_json(folder / PRETRAIN_LOG, {"settings": settings, "evaluated_on": settings["evaluated_on"],
                                       "steps": state.step, "tokens": state.tokens,
                                       "seconds": state.seconds, "evals": state.evals, "losses": state.losses})


def _saved_state(checkpoint_dir: Path) -> dict:
    return read_json(checkpoint_dir / CHECKPOINT_STATE)["state"]


def train_step(model: nn.Module, optimizer, batch: dict, config: PretrainConfig) -> float:
    """Forward (under bf16 autocast where chosen), backward, clip, AdamW step; returns the loss."""
    # The autocast context holds the forward only: it caches the bf16 copy of each weight while it lasts,
    # so a context around several steps would run every forward with the first step's weights.
    with _autocast(config):
        out = model(**batch, decode="labelled", output_hidden_states=config.contrastive)
        loss = out.loss
        if config.contrastive:
            loss = loss + next_segment_loss(out.hidden_states[-1], batch["attention_mask"])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    clip_grad_norm(model.parameters(), config.max_grad_norm)
    optimizer.step()
    return loss.item()


def _time_steps(model, optimizer, data, config, steps: int = 4) -> float:
    """Seconds per training step (the median of a few, after one warm-up step), for a time budget."""
    times = []
    generator = torch.Generator().manual_seed(0)
    for i in range(steps + 1):
        index = np.arange(i * config.batch_size, (i + 1) * config.batch_size) % len(data.train)
        batch = _to_device(to_batch(data.train, index, data, config, generator, model.config.vocab_size), config.device)
        started = time.perf_counter()
        train_step(model, optimizer, batch, config)
        times.append(time.perf_counter() - started)
    # An evaluation every eval_every steps costs about eval_examples / batch_size forward passes (a third of a step each).
    per_step = float(np.median(times[1:]))
    return per_step * (1 + config.eval_examples / config.batch_size / 3 / config.eval_every)


def _autocast(config: PretrainConfig):
    device_type = "cuda" if str(config.device).startswith("cuda") else "cpu"
    precision = choose_precision(config.precision, config.device)
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16")


def _to_device(batch: dict, device: str) -> dict:
    return {k: v.to(device) for k, v in batch.items()} if device != "cpu" else batch


def _progress(enabled: bool | None, done: int, total: int):
    return progress_bar(enabled, total - done, total=total, initial=done, desc="pretrain", unit="step", dynamic_ncols=True)


def _show(bar, state: PretrainState) -> None:
    if bar is None:
        return
    bar.update(1)
    recent = state.losses[-50:]
    bar.set_postfix(loss=f"{sum(recent) / len(recent):.3f}", tok_s=f"{state.tokens / max(state.seconds, 1e-9):,.0f}")


def _close(bar) -> None:
    if bar is not None:
        bar.close()
