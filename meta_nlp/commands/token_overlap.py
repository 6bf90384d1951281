"""How much of each held-out language's text is made of word pieces that its training languages also use, and
how much is [UNK]: a look, before any training, at whether what an encoder meta-learns can reach a language.
(Embeddings of pieces that never occur in training get no meta-gradient.) Tokenizer only: no model is run.

examples:
  python scripts/token_overlap.py --leave-one-out ja,it,ko,uk      # the chatterbot study's folds
  python scripts/token_overlap.py --task sib200 --data-dir ../shared/data/sib200 --leave-one-out jpn_Jpan,ita_Latn
  python scripts/token_overlap.py --held-out-language ko --model bert-base-multilingual-cased

Classification tasks. Counts every text of the languages (truncated to --max-length), not one split.
The table is printed and written, with the settings, to OUTPUT_DIR/token_overlap.json.
"""
import json
import sys
from collections import Counter
from pathlib import Path

from meta_nlp.cli import main_guard


def piece_counts(tokenizer, by_label: dict, max_length: int) -> Counter:
    """How often each word-piece id occurs in one language's texts (special tokens aside)."""
    counts = Counter()
    for texts in by_label.values():
        for text in texts:
            counts.update(tokenizer(text, truncation=True, max_length=max_length, add_special_tokens=False)["input_ids"])
    return counts


def coverage(held_out: Counter, training: list[Counter], unk_id: int | None) -> tuple[float, float]:
    """(share of the held-out pieces whose id occurs in a training language, [UNK] excluded; share that is [UNK])."""
    seen = set().union(*training)
    total = sum(held_out.values()) or 1
    shared = sum(n for piece, n in held_out.items() if piece in seen and piece != unk_id)
    return shared / total, held_out.get(unk_id, 0) / total


def main() -> int:
    from meta_nlp.config import parse_config
    from meta_nlp.data.languages import prepare_languages
    from meta_nlp.data.registry import load_corpus
    from meta_nlp.errors import MetaNLPError
    from meta_nlp.evaluation.report import library_versions
    from meta_nlp.models.encoder import load_tokenizer
    from meta_nlp.recipes.meta_learn import sweep_folds, sweep_languages
    cfg = parse_config(sys.argv[1:], __doc__)
    tokenizer = load_tokenizer(cfg.model)
    folds = sweep_folds(cfg, sweep_languages(cfg)) if cfg.leave_one_out else [cfg]
    print("| held out | training languages | pieces shared with them | [UNK] | distinct pieces |\n|---|---|---|---|---|")
    rows = []
    for fold in folds:
        split = prepare_languages(fold)  # the fold's training languages, as meta-training gets them
        if split.ranking:
            raise MetaNLPError(f"task {cfg.task} is translation ranking: token_overlap reads classification tasks")
        training = [piece_counts(tokenizer, split.train[lang], cfg.max_length)
                    + piece_counts(tokenizer, split.val.get(lang, {}), cfg.max_length) for lang in split.train]
        for lang in fold.held_out_language:
            counts = piece_counts(tokenizer, load_corpus(split.task, [lang])[lang], cfg.max_length)
            shared, unknown = coverage(counts, training, tokenizer.unk_token_id)
            print(f"| {lang} | {len(training)} ({', '.join(split.train)}) | {shared:.1%} | {unknown:.1%} | {len(counts)} |")
            rows.append({"held_out": lang, "train_languages": list(split.train), "shared": round(shared, 4),
                         "unk": round(unknown, 4), "distinct_pieces": len(counts)})
    out = Path(cfg.output_dir) / "token_overlap.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": cfg.model, "task": cfg.task, "max_length": cfg.max_length, "rows": rows,
                               "versions": library_versions()}, indent=2))
    print(f"written: {out}")
    return 0


def run() -> None:
    """`meta-nlp-token-overlap` (pyproject.toml [project.scripts]) and `python scripts/token_overlap.py`."""
    main_guard(main)
