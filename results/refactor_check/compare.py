import json
from pathlib import Path
HERE = Path(__file__).parent
b, a = HERE / "before", HERE / "after"
for run in sorted(p.name for p in b.iterdir() if (p / "results.json").is_file()):
    if not (a / run / "results.json").is_file():
        print(f"{run}: after not finished"); continue
    rb = {(r["method"], r["language"], r["k_shot"]): r for r in json.load(open(b / run / "results.json"))["results"]}
    ra = {(r["method"], r["language"], r["k_shot"]): r for r in json.load(open(a / run / "results.json"))["results"]}
    for key in rb:
        x, y = rb[key], ra.get(key)
        if y is None:
            print(run, key, "missing after"); continue
        same = {f: x.get(f) == y.get(f) for f in ("episode_accuracy", "accuracy", "adapt_steps", "lr_factor", "val_grid", "retrieval", "accuracy_by_step")}
        sel = (x.get("selection", {}).get("selected_step"), x.get("selection", {}).get("val_accuracy")) == \
              (y.get("selection", {}).get("selected_step"), y.get("selection", {}).get("val_accuracy"))
        ok = all(same.values()) and sel
        print(f"{run:9s} {key[0]:9s} {'IDENTICAL' if ok else 'DIFFERS'} acc {x['accuracy']:.4f} -> {y['accuracy']:.4f} "
              f"sel {x.get('selection',{}).get('selected_step')}->{y.get('selection',{}).get('selected_step')} "
              + ("" if ok else str({k: v for k, v in same.items() if not v})))
