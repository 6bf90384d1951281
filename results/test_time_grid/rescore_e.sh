#!/usr/bin/env bash
# Run E (results/chatterbot_ranking_unseen) on the default of c044e49 (test-time lr grid 0.3, 1): a copy of each seed's
# folder (weights, scores) resumed from its step-40 checkpoint, from a clone of c044e49 (CLONE), both cores. Validation
# and held-out passes whose pick did not change are read back; only the new picks are scored.
# bash results/test_time_grid/rescore_e.sh CLONE
set -euo pipefail
CLONE=$1
E=$(pwd)/results/chatterbot_ranking_unseen
OUT=$(pwd)/results/test_time_grid
for S in 0 1; do
  rm -rf "$OUT/e_ja_seed$S" && cp -r "$E/ja_seed$S" "$OUT/e_ja_seed$S" && rm "$OUT/e_ja_seed$S/results.json"
  PYTHONPATH=$CLONE python -P "$CLONE/scripts/meta_train.py" --task chatterbot_parallel_train \
    --held-out-task chatterbot_parallel_test --held-out-language ja --seed $S --cpu-threads 2 \
    --output-dir "$OUT/e_ja_seed$S" --resume-from-checkpoint latest
done
python scripts/pool_seeds.py "$OUT/e_ja_seed0" "$OUT/e_ja_seed1" --output-dir "$OUT/e_ja_2seeds"
