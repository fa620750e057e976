"""``python -m minisbert demo``: two sentences through the tokenizer and BERT, then compared."""

import torch

DEFAULT_SENTENCES = ("A man is playing a guitar.", "Someone is strumming a guitar on stage.")


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="tokenize two sentences, run BERT, print shapes and a cosine similarity")
    p.add_argument("sentences", nargs="*", default=list(DEFAULT_SENTENCES), help="two sentences")
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="model folder or fetched model name")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..io.weights import resolve_model_dir

    if len(args.sentences) != 2:
        raise ValueError(f"demo takes exactly two sentences, got {len(args.sentences)}")
    folder = resolve_model_dir(args.model)

    from ..bert import BertModel
    from ..tokenizer import BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(folder)
    model = BertModel.from_pretrained(folder)
    cfg = model.config
    print(f"model: {folder.name}  ({cfg.num_hidden_layers} layers, H={cfg.hidden_size}, "
          f"{cfg.num_attention_heads} heads, {sum(p.numel() for p in model.parameters()):,} parameters)\n")

    batch = tokenizer(args.sentences)
    for i, sentence in enumerate(args.sentences):
        n = int(batch["attention_mask"][i].sum())
        ids = batch["input_ids"][i, :n].tolist()
        print(f"sentence {i + 1}: {sentence!r}")
        print(f"  tokens: {tokenizer.convert_ids_to_tokens(ids)}")
        print(f"  ids:    {ids}")
    print(f"\ninput_ids {tuple(batch['input_ids'].shape)}  (batch, tokens; the shorter one padded with [PAD]=0)")

    with torch.no_grad():
        out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    h = out.last_hidden_state
    print(f"last_hidden_state {tuple(h.shape)}  (batch, tokens, hidden): one vector per token")
    print(f"pooler_output     {tuple(out.pooler_output.shape)}  (batch, hidden): tanh(dense(h[CLS]))")

    # Mean pooling over real tokens (SBERT's default): one vector per sentence, then cosine similarity.
    mask = batch["attention_mask"].unsqueeze(-1).to(h.dtype)  # (B, T, 1)
    sentence_vectors = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, H)
    cosine = torch.nn.functional.cosine_similarity(sentence_vectors[0], sentence_vectors[1], dim=0)
    print(f"\ncosine similarity of the mean-pooled sentence vectors: {cosine.item():.4f}")
    return 0
