"""Plan addendum 15c and 16's finding (results/meta_batch_4/plan.md): why part A's seed 1 kept φ⁰ on SIB-200, and what
it cost. Reads the seed's run (results/one_commit/sib200_seed1), the evaluation of its unkept step-40 checkpoint
(results/one_commit/sib200_seed1_step40, a diagnosis: nothing is chosen from it) and the run's saved validation
passes (OUTPUT_DIR/scores: one array per pass, [episodes, steps 0..3]; its file names are digests, so a pass of
model selection is recognised by its last column's mean, the score selection recorded: picks.py). Run from the repository root:
    python results/one_commit/seed1_step40.py      (output seed1_step40.txt beside it)"""
import sys
from pathlib import Path

import numpy as np

from meta_nlp.evaluation.comparison import result_row, validation_by_step
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from picks import passes_by_checkpoint  # beside this script

HERE = Path(__file__).parent
RUN, STEP40 = HERE / "sib200_seed1", HERE / "sib200_seed1_step40"

lines = []
for method in ("protonet", "multitask"):
    lines.append(f"{method}: model selection's scores (after the last of 3 lr ×1 steps) by checkpoint "
                 f"{validation_by_step(RUN, method)}")
    lines += [f"    checkpoint {step}: its pass by test-time step 0..3: {np.round(m, 4).tolist()}"
              for step, means in passes_by_checkpoint(RUN, method).items() for m in means]
lines.append("")
for language in ("ita_Latn", "jpn_Jpan"):
    step40 = result_row(STEP40, "protonet", language)
    kept, multitask = result_row(RUN, "protonet", language), result_row(RUN, "multitask", language)
    lines += [f"{language}, seed 1's 200 episodes: step 40 {step40['accuracy']:.4f} (test-time {step40['adapt_steps']} "
              f"steps at lr ×{step40['lr_factor']:g}), φ⁰ as kept {kept['accuracy']:.4f}, multitask {multitask['accuracy']:.4f}",
              f"    step 40 − φ⁰: {interval(paired_bootstrap(step40, kept))}; step 40 − multitask: "
              f"{interval(paired_bootstrap(step40, multitask))}"]
(HERE / "seed1_step40.txt").write_text("\n".join(lines) + "\n")
sys.stdout.write("\n".join(lines) + "\n")
