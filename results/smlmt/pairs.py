"""Plan addendum 33 (B) and 33b: ProtoNet meta-trained with half its episodes SMLMT tasks (--smlmt-ratio 0.5) for the
held-out task (chatterbot topics -> SIB-200 topics in ita_Latn and jpn_Jpan, texts whole at --max-length 128, float32),
against ProtoNet without them and against the baselines, on the same 200 episodes per language and seed: at 40
meta-steps seed by seed and pooled over both seeds, then at 160 meta-steps (seed 0), each arm also against plain
ProtoNet at 40. Reported, nothing decided (it reads the held-out languages).
Run from the repository root: python results/smlmt/pairs.py"""
from meta_nlp.evaluation.comparison import paired_difference, result_row, run_choices, validation_by_step

LANGUAGES = ("ita_Latn", "jpn_Jpan")
ARMS = {  # (meta-steps, seed or 'pooled'): (with SMLMT, without); without at 40 steps also holds the baselines
    (40, 0): ("results/smlmt/held_out_task_128_seed0", "results/max_length/held_out_task_128_seed0"),
    (40, 1): ("results/smlmt/held_out_task_128_seed1", "results/max_length/held_out_task_128_seed1"),
    (40, "pooled"): ("results/smlmt/held_out_task_128_2seeds", "results/max_length/held_out_task_128_2seeds"),
    (160, 0): ("results/smlmt/held_out_task_160_smlmt_seed0", "results/smlmt/held_out_task_160_seed0"),
}

for (steps, seed), (smlmt, plain) in ARMS.items():
    at_40 = ARMS[40, seed][1]  # run K / addendum 33 A: plain ProtoNet at 40 steps, finetune and multitask
    print(f"\n{steps} meta-steps, seed {seed}:")
    if seed != "pooled":
        print(f"  meta-validation (training languages) by meta-step: with SMLMT {validation_by_step(smlmt, 'protonet')}, "
              f"without {validation_by_step(plain, 'protonet')}")
        print(f"  with SMLMT: {run_choices(smlmt)}")
        print(f"  without: {run_choices(plain)}")
    for lang in LANGUAGES:
        with_smlmt, without = result_row(smlmt, "protonet", lang), result_row(plain, "protonet", lang)
        print(f"  {lang}: protonet with SMLMT − without {paired_difference(with_smlmt, without)}")
        if plain != at_40:
            plain_40 = result_row(at_40, "protonet", lang)
            print(f"    without: {steps} − 40 meta-steps {paired_difference(without, plain_40)}; with SMLMT: {steps} "
                  f"steps − without at 40 {paired_difference(with_smlmt, plain_40)}")
        for baseline in ("finetune", "multitask"):
            row = result_row(at_40, baseline, lang)
            print(f"    with SMLMT − {baseline} {paired_difference(with_smlmt, row)}; "
                  f"without − {baseline} {paired_difference(without, row)}")
