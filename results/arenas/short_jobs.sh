#!/bin/bash
# Addendum 20: the shortened default job (as results/scoring_threads/short_jobs.sh) on two checkouts, for peak memory.
#   bash results/arenas/short_jobs.sh <clone of 096ffd4> <clone of the addendum's commit>
# 1 torch thread each, the two side by side (as study runs go), then 2 threads each, alone, one after the other.
set -e
MID=$1; NEW=$2; OUT=/work/main/results/arenas
cd /work/main
short() {  # short PYTHONPATH NAME [env]
  rm -rf /tmp/arenas_$2
  env $3 PYTHONPATH=$1 python $1/scripts/meta_train.py --max-steps 6 --eval-every 3 --save-every 3 --val-episodes 16 \
    --eval-episodes 40 --output-dir /tmp/arenas_$2 > /tmp/arenas_$2.log 2>&1
  python -P -c "
import json; r=json.load(open('/tmp/arenas_$2/results.json')); print('$2', r['versions']['meta_nlp_commit'], r['wall_time_s'], r['peak_memory_mib'], r['validation_scoring_s'], r['held_out_scoring_s'], [(m['method'], round(m['accuracy'], 4)) for m in r['results']])" >> $OUT/short_jobs.txt
}
short $MID mid_1thread OMP_NUM_THREADS=1 & short $NEW new_1thread OMP_NUM_THREADS=1 & wait
short $MID mid_2threads
short $NEW new_2threads
