#!/usr/bin/env bash
# Usage: run_fingerprints.sh TREE OUT  (TREE: a checkout of the code to run; OUT: where its nine runs go)
# fingerprint runs: TREE=path OUT=dir
set -u
TREE=$1; OUT=$2
export OMP_NUM_THREADS=1
export PYTHONPATH=$TREE
COMMON="--max-steps 6 --eval-every 3 --save-every 3 --val-episodes 4 --eval-episodes 12 --eval-inner-steps 2 --baselines finetune"
run() { name=$1; shift; python $TREE/scripts/meta_train.py $COMMON --output-dir $OUT/$name "$@" > $OUT/$name.log 2>&1; echo "$name rc=$?"; }
run fomaml --algorithm fomaml
run anil --algorithm anil
run protonet --algorithm protonet
run mldg --algorithm mldg --train-languages en --train-languages it --train-languages de
run metasgd --algorithm metasgd --multi-step-loss-steps 4 --first-order-steps 2
run maml --algorithm maml
run aug --algorithm fomaml --mlti-ratio 0.5 --smlmt-ratio 0.25 --cross-lingual-support-ratio 0.25
run sib --algorithm fomaml --task sib200 --data-dir /work/shared/data/sib200 --held-out-language jpn_Jpan
run rank --algorithm protonet --task chatterbot_parallel
