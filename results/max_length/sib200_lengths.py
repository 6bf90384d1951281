"""How long SIB-200's sentences are for MiniLM's tokenizer (special tokens counted), by language: the median, the share
longer than 32 (the default --max-length, which cuts them) and than 128, and the length that keeps 95% whole. Text
lengths only: no labels, no accuracy. Run from the repository root: python results/max_length/sib200_lengths.py"""
import numpy as np

from meta_nlp.config import MetaConfig
from meta_nlp.data.registry import find_task, load_corpus
from meta_nlp.models.encoder import load_tokenizer, token_lengths
from meta_nlp.recipes.meta_learn import cut_at, texts_of

task = find_task("sib200", [], "../shared/data/sib200")
tokenizer = load_tokenizer(MetaConfig().model)
corpus = load_corpus(task, task.languages())
for lang, by_label in sorted(corpus.items()):
    lengths = token_lengths(tokenizer, texts_of(by_label))
    cut32, cut128 = (cut_at(lengths, n) for n in (32, 128))  # the texts tokenised once
    print(f"{lang}: {len(lengths)} sentences, median {np.median(lengths):.0f} tokens, longer than 32: {cut32['share']:.0%}, "
          f"than 128: {cut128['share']:.0%}; 95% whole at {cut32['whole_95']}")
