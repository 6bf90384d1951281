"""How much could a better test-time rule buy? For every setting of the seventh measurements, each method's
accuracy under the rule it ran with (steps and lr chosen on validation) and at the single test-time step count
(at the lr each seed chose) that scores best on the held-out episodes themselves. That second number reads the
held-out episodes, so it is an upper bound for analysis, never a way to select anything. Run from the repository
root: python results/test_time_bound/bound.py"""
import json

SETTINGS = {"default job, ja": "results/ja_methods_names/pooled",
            "chatterbot study": "results/study_chatterbot_names",
            "SIB-200 study": "results/study_sib200_names",
            "held-out task": "results/held_out_task_names"}
BASELINES = ("finetune", "multitask")
META_LEARNERS = ("fomaml", "protonet")


def best_fixed_steps(row: dict) -> float:
    return max(row["accuracy_by_step"])


print("| setting | language | best meta-learner − best baseline, validation's rule "
      "| the same, best fixed step count on the held-out episodes |")
print("|---|---|---|---|")
for setting, run in SETTINGS.items():
    data = json.load(open(f"{run}/results.json"))
    rows = [r for r in data["results"] if r["k_shot"] == data["config"]["k_shot"]]
    for language in dict.fromkeys(r["language"] for r in rows):
        of = {r["method"]: r for r in rows if r["language"] == language}
        gaps = []
        for score in (lambda r: r["accuracy"], best_fixed_steps):
            meta = max(META_LEARNERS, key=lambda m: score(of[m]))
            base = max(BASELINES, key=lambda m: score(of[m]))
            gaps.append(f"{100 * (score(of[meta]) - score(of[base])):+.2f} ({meta} − {base})")
        print(f"| {setting} | {language} | {gaps[0]} | {gaps[1]} |")
