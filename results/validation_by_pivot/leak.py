"""How many translation-ranking validation pairs meta-training reads the pivot side of (plan addendum 21,
results/meta_batch_4/plan.md). For each shipped translation_ranking task whose data is here, seeds 0 and 1, every
language of the task (except the pivot) taken as a training language: the share of the validation pairs whose
pivot sentence is the pivot of a meta-training pair of some language, for the split before this change (a sample
drawn per language, as in b936522) and the split by pivot sentence (`split_pairs_for_validation`). Then, for a
held-out language, the share of its pairs whose pivot sentence is the pivot of another language's pair (read in
meta-training): Tatoeba `jpn` as `tatoeba` and as `tatoeba_test` beside `tatoeba_train`. Run from the
repository root, with ../shared/data beside it for tatoeba and sib200_parallel:
    python results/validation_by_pivot/leak.py        # output results/validation_by_pivot/leak.txt"""
from pathlib import Path

import numpy as np

from meta_nlp.data.episodes import language_key
from meta_nlp.data.ranking import split_pairs_for_validation
from meta_nlp.data.registry import find_task, load_pairs

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TASKS = {  # task: (--data-dir or None, languages); cldr_names: the locales of the chatterbot languages, as a sample
    "chatterbot_parallel": (None, ["it", "ja", "ko", "uk", "zh"]),
    "cldr_names": (None, ["de", "es", "fa", "it", "ja", "ko", "nl", "pt", "tr", "uk", "zh"]),
    "sib200_parallel": (SHARED / "sib200", None),
    "tatoeba": (SHARED / "tatoeba", None),
}


def per_language_sample(corpus, fraction, seed):
    """The split before this change: each language's own random sample."""
    train, val = {}, {}
    for lang in sorted(corpus):
        pairs = corpus[lang]
        order = np.random.default_rng([seed, 7, language_key(lang), len(pairs)]).permutation(len(pairs))
        n_val = int(round(fraction * len(pairs)))
        val[lang], train[lang] = [pairs[j] for j in order[:n_val]], [pairs[j] for j in order[n_val:]]
    return train, val


def leaked(split, corpus) -> tuple[int, int]:
    count = total = 0
    for seed in (0, 1):
        train, val = split(corpus, 0.25, seed)
        trained_pivots = {t for pairs in train.values() for _, t in pairs}
        count += sum(t in trained_pivots for pairs in val.values() for _, t in pairs)
        total += sum(len(pairs) for pairs in val.values())
    return count, total


def main() -> None:
    lines = []
    for name, (data_dir, languages) in TASKS.items():
        if data_dir is not None and not data_dir.is_dir():
            lines.append(f"{name}: skipped, {data_dir} is absent")
            continue
        task = find_task(name, data_dir=data_dir)
        pivot = task.reader.pivot
        languages = languages or [lang for lang in task.languages() if lang != pivot]
        corpus = {lang: load_pairs(task, lang) for lang in languages}
        for split, what in ((per_language_sample, "per-language sample"), (split_pairs_for_validation, "by pivot")):
            count, total = leaked(split, corpus)
            lines.append(f"{name} ({len(corpus)} languages, pivot {pivot}), {what}: {count}/{total} = "
                         f"{count / total:.2f} of the validation pairs have their pivot sentence in meta-training")
    if (SHARED / "tatoeba").is_dir():
        for trained, held_out in (("tatoeba", "tatoeba"), ("tatoeba_train", "tatoeba_test")):
            train_task, test_task = (find_task(name, data_dir=SHARED / "tatoeba") for name in (trained, held_out))
            read = {t for lang in train_task.languages() if lang not in ("eng", "jpn")
                    for _, t in load_pairs(train_task, lang)}
            pairs = load_pairs(test_task, "jpn")
            count = sum(t in read for _, t in pairs)
            lines.append(f"held-out jpn of {held_out} beside {trained}: {count}/{len(pairs)} = {count / len(pairs):.2f} "
                         "of its pairs have their English sentence in another language's meta-training pairs")
    text = "\n".join(lines) + "\n"
    (Path(__file__).parent / "leak.txt").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
