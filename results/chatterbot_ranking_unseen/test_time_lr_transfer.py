"""Does the test-time lr that meta-validation picks transfer to the held-out language? Over every committed run's
results.json (every code version of this project; each distinct validation grid of a (method, language) counted
once; pooled folders skipped, they repeat their runs), the held-out gain of the chosen test-time steps over no step
(accuracy_by_step[chosen steps] - accuracy_by_step[0], the same lr factor, the same episodes), by the lr factor
validation chose. Rows that chose 0 steps have no gain and are left out. This reads held-out scores: a finding to
test on languages no study has held out, not a rule to adopt on these ones (results.md "thirty-first measurements").
Run from the repository root: python results/chatterbot_ranking_unseen/test_time_lr_transfer.py"""
import glob
import json
import statistics


def chosen_step_gains() -> list[tuple[float, float, str, str, str, float]]:
    """(lr factor, held-out gain in points, run, method, language, validation gain in points) for each distinct pick
    with steps > 0."""
    seen, gains = set(), []
    for path in sorted(glob.glob("results/**/results.json", recursive=True)):
        if "pooled" in path or "2seeds" in path:
            continue
        for row in json.load(open(path)).get("results", []):
            grid, by_step = row.get("val_grid"), row.get("accuracy_by_step")
            if not isinstance(grid, dict) or not by_step or "lr_factor" not in row or not row.get("adapt_steps"):
                continue
            key = (json.dumps(grid, sort_keys=True), row["method"], row.get("language"))
            if key in seen:
                continue
            seen.add(key)
            steps, on_validation = row["adapt_steps"], grid[f"{row['lr_factor']:g}"]
            gains.append((row["lr_factor"], 100 * (by_step[steps] - by_step[0]), path.removeprefix("results/"),
                          row["method"], row.get("language"), 100 * (on_validation[steps] - on_validation[0])))
    return gains


gains = chosen_step_gains()
print(f"{len(gains)} picks with test-time steps; gain of the chosen steps over no step, in points, on the held-out "
      "language (and on the validation that chose them):")
for factor in sorted({g[0] for g in gains}):
    values = [g[1] for g in gains if g[0] == factor]
    worst = min(g for g in gains if g[0] == factor)
    print(f"  lr x{factor:g}: {len(values)} picks, mean {statistics.mean(values):+.2f}, median "
          f"{statistics.median(values):+.2f}, below no step in {sum(v < 0 for v in values) / len(values):.0%} (on "
          f"validation: mean {statistics.mean(g[5] for g in gains if g[0] == factor):+.2f}); "
          f"worst {worst[1]:+.2f} ({worst[2]} {worst[3]} {worst[4]})")
