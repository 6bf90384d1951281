cd /work/main
for who in old notrim trim; do
  case $who in old) PP=/work/clone17;; notrim) PP=/work/clone18;; trim) PP=/work/main;; esac
  rm -rf /tmp/short_$who
  PYTHONPATH=$PP accelerate launch $PP/scripts/meta_train.py --max-steps 6 --eval-every 3 --save-every 3 --val-episodes 16 \
    --eval-episodes 40 --output-dir /tmp/short_$who > /tmp/short_$who.log 2>&1
  python -c "
import json; r=json.load(open('/tmp/short_$who/results.json')); print('$who', r['versions']['meta_nlp_commit'], r['wall_time_s'], r['peak_memory_mib'], r['validation_scoring_s'], r['held_out_scoring_s'], [(m['method'], m['accuracy']) for m in r['results']])" >> /tmp/short.txt
done
