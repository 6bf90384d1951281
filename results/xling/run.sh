#!/bin/bash
# One lane per seed: bash results/xling/run.sh S  (skips finished runs; OMP_NUM_THREADS=1 so two lanes share 2 cores)
S=$1
for variant in "xepisodes --cross-lingual-episodes true" "xsupport --cross-lingual-support-ratio 0.5" \
               "pseudotarget --pseudo-target-queries true"; do
  set -- $variant
  name=$1; shift
  for algorithm in protonet fomaml; do
    out=results/xling/${algorithm}_${name}_seed$S
    [ -f $out/results.json ] && continue
    OMP_NUM_THREADS=1 python scripts/meta_train.py --seed $S --algorithm $algorithm --baselines none "$@" \
      --output-dir $out > $out.log 2>&1 || echo "$out failed" >&2
  done
done
