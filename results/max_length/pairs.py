"""Plan addendum 31: the held-out task (chatterbot topics -> SIB-200 topics in ita_Latn and jpn_Jpan), seed 0, the
same job with texts cut at 32 tokens (every SIB-200 run so far) and at 128 (MiniLM's training length), on the same
200 episodes per language. Each method at 128 against itself at 32, then the methods against each other at each
length. One seed: reported, nothing decided. Run from the repository root: python results/max_length/pairs.py"""
import json

from meta_nlp.config import config_from_dict, saved_config
from meta_nlp.data.languages import load_held_out
from meta_nlp.evaluation.comparison import paired_difference, result_row, run_choices, validation_by_step
from meta_nlp.models.encoder import load_tokenizer, token_lengths
from meta_nlp.recipes.meta_learn import cut_at, texts_of

RUNS = {32: "results/max_length/held_out_task_32_seed0", 128: "results/max_length/held_out_task_128_seed0"}
METHODS, LANGUAGES = ("protonet", "multitask", "finetune"), ("ita_Latn", "jpn_Jpan")

for length, run in RUNS.items():
    print(f"--max-length {length} ({run}): ProtoNet's validation by meta-step {validation_by_step(run, 'protonet')}")
    print(f"  {run_choices(run)}")
cfg = config_from_dict(saved_config(json.load(open(f"{RUNS[32]}/results.json"))["config"]))
tokenizer = load_tokenizer(cfg.model)
for lang in LANGUAGES:
    rows = {(m, n): result_row(run, m, lang) for m in METHODS for n, run in RUNS.items()}
    # the runs predate the share in their rows (texts_cut)
    lengths = token_lengths(tokenizer, texts_of(load_held_out(cfg, lang).corpus[lang]))
    print(f"\n{lang} (texts cut: " + ", ".join(f"{cut_at(lengths, n)['share']:.0%} at {n}" for n in RUNS) + ")")
    for m in METHODS:
        print(f"  {m}: 128 − 32 {paired_difference(rows[m, 128], rows[m, 32])}")
    for n in RUNS:
        for baseline in ("finetune", "multitask"):
            print(f"  at {n}: protonet − {baseline} {paired_difference(rows['protonet', n], rows[baseline, n])}")
