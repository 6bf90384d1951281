# The informal probe of results.md "twenty-sixth measurements" (run once, as it is, from /tmp, on the working tree of
# 9c5a18e plus the first, deepcopy version of the side-by-side scoring; the machine's two study runs paused for it):
# torch splitting ops over 2 threads (scoring_threads forced to 1), episodes side by side, 1 thread; output probe.json.
import time, shutil, torch, json, sys
from pathlib import Path
from meta_nlp.evaluation import evaluator
from meta_nlp.recipes.meta_learn import evaluate_checkpoint
B = "results/one_commit_fix/ja_seed0/best"
orig = evaluator.scoring_threads
out = {}
for name, threads, seq in [("warm", 2, False), ("2 threads, ops split (old)", 2, True), ("2 threads side by side (new)", 2, False), ("1 thread", 1, True)]:
    torch.set_num_threads(threads)
    evaluator.scoring_threads = (lambda acc: 1) if seq else orig
    evaluator._MEASURED.clear()
    d = Path(f"/tmp/harness_{len(out)}"); shutil.rmtree(d, ignore_errors=True)
    t = time.perf_counter()
    with evaluator.scoring_run(d, read=False):
        r = evaluate_checkpoint(B, ["ja"], {"baselines": [], "eval_episodes": 40 if name != "warm" else 4, "val_episodes": 16 if name != "warm" else 4}, d)
        cost = evaluator.scoring_cost()
    out[name] = (round(time.perf_counter() - t, 1), cost, [(m["accuracy"], m["adapt_steps"], m["lr_factor"], m["accuracy_by_step"]) for m in r["results"]])
    print(name, out[name], flush=True); Path("/tmp/harness.json").write_text(json.dumps(out, indent=1))
