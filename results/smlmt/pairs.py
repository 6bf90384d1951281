"""Plan addendum 33 (B) and 33b: ProtoNet meta-trained with half its episodes SMLMT tasks (--smlmt-ratio 0.5) for the
held-out task (chatterbot topics -> SIB-200 topics in ita_Latn and jpn_Jpan, texts whole at --max-length 128, float32),
against ProtoNet without them and against the baselines, on the same 200 episodes per language and seed: at 40
meta-steps seed by seed and pooled over the seeds both arms have, then at 160 meta-steps (seed 0), each arm also
against plain ProtoNet at 40. Reported, nothing
decided (it reads the held-out languages). Run from the repository root: python results/smlmt/pairs.py"""
from pathlib import Path

from meta_nlp.evaluation.comparison import paired_difference, result_row, run_choices, validation_by_step

LANGUAGES = ("ita_Latn", "jpn_Jpan")
BASELINES = "results/max_length/held_out_task_128_seed{}"  # run K / addendum 33 A: finetune and multitask
ARMS = {  # (meta-steps, seed or 'pooled'): (with SMLMT, without)
    (40, 0): ("results/smlmt/held_out_task_128_seed0", "results/max_length/held_out_task_128_seed0"),
    (40, 1): ("results/smlmt/held_out_task_128_seed1", "results/max_length/held_out_task_128_seed1"),
    (40, "pooled"): ("results/smlmt/held_out_task_128_2seeds", "results/max_length/held_out_task_128_2seeds"),
    (160, 0): ("results/smlmt/held_out_task_160_smlmt_seed0", "results/smlmt/held_out_task_160_seed0"),
}


def finished(run: str) -> bool:
    return Path(run, "results.json").is_file()


def baselines_of(seed: int | str) -> str:
    return "results/max_length/held_out_task_128_2seeds" if seed == "pooled" else BASELINES.format(seed)


for (steps, seed), (smlmt, plain) in ARMS.items():
    if not (finished(smlmt) and finished(plain) and finished(baselines_of(seed))):
        continue
    print(f"\n{steps} meta-steps, seed {seed}:")
    if seed != "pooled":
        print(f"  meta-validation (training languages) by meta-step: with SMLMT {validation_by_step(smlmt, 'protonet')}, "
              f"without {validation_by_step(plain, 'protonet')}")
        print(f"  with SMLMT: {run_choices(smlmt)}")
        print(f"  without: {run_choices(plain)}")
    for lang in LANGUAGES:
        with_smlmt, without = result_row(smlmt, "protonet", lang), result_row(plain, "protonet", lang)
        print(f"  {lang}: protonet with SMLMT − without {paired_difference(with_smlmt, without)}")
        if steps != 40:
            at_40 = result_row(ARMS[40, seed][1], "protonet", lang)
            print(f"    without: {steps} − 40 meta-steps {paired_difference(without, at_40)}; with SMLMT: {steps} "
                  f"steps − without at 40 {paired_difference(with_smlmt, at_40)}")
        for baseline in ("finetune", "multitask"):
            row = result_row(baselines_of(seed), baseline, lang)
            print(f"    with SMLMT − {baseline} {paired_difference(with_smlmt, row)}; "
                  f"without − {baseline} {paired_difference(without, row)}")
