"""How much does --max-length 32 cut, and does it cost accuracy? Reads no held-out language's episodes (part 1 counts the
token lengths of `ja`'s texts too, without their labels).

Part 1: per chatterbot language, the share of utterances whose tokens (MiniLM's English vocabulary, special tokens
counted) exceed 32 and 64. Part 2: the default job's saved ProtoNet learners (seeds 0 and 1) scored at
their own validation-tuned test-time setting on fresh meta-validation episodes of each training language (indices
1000-1029 of its validation share, none of them used by selection), with texts cut at 32 tokens (as trained) and at
64 (evaluation only: the model was meta-trained at 32), paired by episode. (The multitask baseline's learners were
left out for time.) Run from the repository root: python results/max_length/truncation.py SEED0_RUN SEED1_RUN
(truncation.txt: seed 0 = a run of the default job on 23f27c3, the same code and results as results/default_job_libyaml,
whose weights are not kept; seed 1 = results/auxiliary/default_ja_seed1)."""
import sys

import numpy as np
import torch

from meta_nlp.algorithms.inner import to_batch
from meta_nlp.data.languages import prepare_languages, read_training_data, task_of
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.learner import MetaLearner
from meta_nlp.models.encoder import token_lengths
from meta_nlp.recipes.study import pooled

FIRST, EPISODES, LENGTHS = 1000, 30, (32, 64)
torch.set_num_threads(2)


def truncated_shares(run: str) -> None:
    learner = MetaLearner.from_pretrained(run, device="cpu")
    cfg = learner.cfg
    task = task_of(cfg)
    data = read_training_data(task, list(cfg.held_out_language) + list(prepare_languages(cfg).train))
    print("share of utterances longer than 32 / 64 tokens:")
    for lang, by_label in sorted(data.items()):
        texts = [text for texts in by_label.values() for text in texts]
        lengths = np.array(token_lengths(learner.tokenizer, texts))
        print(f"  {lang:8s} {len(lengths):5d} texts, median {np.median(lengths):4.0f}, >32 {np.mean(lengths > 32):6.1%}, "
              f">64 {np.mean(lengths > 64):6.1%}")


def rows_by_length(method_dir: str) -> dict[tuple[str, int], dict]:
    """{(language, max length): result row of per-episode accuracies} for one saved learner."""
    learner = MetaLearner.from_pretrained(method_dir, device="cpu")
    cfg, rule = learner.cfg, learner.test_time_rule()
    sampler = prepare_languages(cfg).val_sampler(cfg)
    out = {}
    for lang in sampler.languages:
        for length in LENGTHS:
            scores = []
            for index in range(FIRST, FIRST + EPISODES):
                batch = to_batch(sampler.episode(index, language=lang), learner.tokenizer, length, torch.device("cpu"))
                pred = rule.predict(learner.model, batch, learner.steps, learner.lr_factor, cfg.head_init)[-1]
                scores.append(float(np.mean(np.equal(pred, batch.query_labels.tolist()))))
            out[lang, length] = {"method": f"max_length {length}", "language": lang, "k_shot": cfg.k_shot,
                                 "seed": cfg.seed, "accuracy": float(np.mean(scores)), "episode_accuracy": scores}
    return out


runs = sys.argv[1:] or ["results/default_job_libyaml", "results/auxiliary/default_ja_seed1"]
truncated_shares(runs[0])
for method, sub in (("protonet", ""),):
    by_seed = [rows_by_length(run + sub) for run in runs]
    print(f"\n{method}: accuracy on {EPISODES} fresh validation episodes per language and seed, texts cut at 32 / 64")
    for lang, _ in sorted(k for k in by_seed[0] if k[1] == LENGTHS[0]):
        short, long = (pooled([rows[lang, n] for rows in by_seed]) for n in LENGTHS)
        print(f"  {lang:8s} {short['accuracy']:.4f} / {long['accuracy']:.4f}   64 − 32: "
              f"{interval(paired_bootstrap(long, short))}", flush=True)
