"""Addendum 19's proxy for validation lines read in translation (results/meta_batch_4/plan.md). For the unseen-lines
task with `ko` held out (chatterbot_topics_train: the first half of each topic file), seeds 0 and 1: the share of the
validation lines of en, it, uk, fa, zh and ja whose line at the same relative place of another of those languages
(its translation, where files align by position) is in that language's meta-training share, for the random split
and the split by position. Run from the repository root:
    python results/validation_by_position/leak.py        # output results/validation_by_position/leak.txt"""
from pathlib import Path

from meta_nlp.data import chatterbot
from meta_nlp.data.episodes import split_for_validation

TRANSLATED = ["en", "it", "uk", "fa", "zh", "ja"]  # the line-by-line translations meta-trained on when ko is held out


def leaked_share(by_position: bool) -> tuple[int, int]:
    corpus = {lang: chatterbot.read_language(lang, (0.0, 0.5)) for lang in TRANSLATED}
    # each line replaced by its relative place in the file, so that places can be compared across languages
    places = {lang: {topic: [j / len(lines) for j in range(len(lines))] for topic, lines in topics.items()}
              for lang, topics in corpus.items()}
    leaked = total = 0
    for seed in (0, 1):
        train, val = split_for_validation(places, 0.25, seed, by_position)
        trained = {lang: {topic: set(kept) for topic, kept in topics.items()} for lang, topics in train.items()}
        for lang in TRANSLATED:
            for topic, held in val[lang].items():
                others = [b for b in TRANSLATED if b != lang and topic in places[b]]
                for place in held:
                    leaked += any(places[b][topic][int(place * len(places[b][topic]))] in trained[b][topic]
                                  for b in others)
                    total += 1
    return leaked, total


def main() -> None:
    lines = []
    for by_position, name in ((False, "random"), (True, "by position")):
        leaked, total = leaked_share(by_position)
        lines.append(f"{name}: {leaked}/{total} = {leaked / total:.2f} of the validation lines have a translation in meta-training")
    text = "\n".join(lines) + "\n"
    (Path(__file__).parent / "leak.txt").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
