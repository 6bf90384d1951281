#!/usr/bin/env bash
# Plan addendum 25, run F, from a clone of bbf946e (CLONE), both cores; the output under this repository's results/.
# bash results/test_time_grid/run.sh CLONE
set -euo pipefail
CLONE=$1
OUT=$(pwd)/results/test_time_grid
ARGS=(--held-out-language fa,pt --seed 0 --cpu-threads 2)
PYTHONPATH=$CLONE python -P "$CLONE/scripts/meta_train.py" "${ARGS[@]}" --output-dir "$OUT/fresh_seed0"
for G in 0.3 1 3; do  # the same checkpoints and validation passes, re-evaluated with one lr factor
  rm -rf "$OUT/fresh_seed0_grid$G" && cp -r "$OUT/fresh_seed0" "$OUT/fresh_seed0_grid$G"
  rm "$OUT/fresh_seed0_grid$G/results.json"
  PYTHONPATH=$CLONE python -P "$CLONE/scripts/meta_train.py" "${ARGS[@]}" --output-dir "$OUT/fresh_seed0_grid$G" \
    --resume-from-checkpoint latest --eval-lr-grid "$G"
done
