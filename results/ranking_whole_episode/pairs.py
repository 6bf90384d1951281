"""The paired differences quoted in results.md ("twenty-ninth measurements"): Tatoeba held-out `jpn` on English
sentences never meta-trained on (`tatoeba_test`), 2 seeds × 200 episodes, the same episodes in every run.
A: 5-candidate training groups (c93e070); C: up to 10 (a882570, plan addendum 22); D: C with ProtoNet scoring every
group of a ranking episode (899d2f4, addendum 23; ProtoNet only, φ⁰ and multitask are C's).
The project's paired bootstrap (resampling episodes within seeds).
Run from the repository root: python results/ranking_whole_episode/pairs.py"""

from meta_nlp.evaluation.comparison import paired_difference, result_row, result_summary

RUNS = {"A": "results/validation_by_pivot/tatoeba_unseen_2seeds", "C": "results/ranking_ways/tatoeba_unseen_2seeds",
        "D": "results/ranking_whole_episode/tatoeba_unseen_2seeds"}
rows = {("A", m): result_row(RUNS["A"], m, "jpn") for m in ("protonet", "multitask", "finetune")}
rows |= {("C", m): result_row(RUNS["C"], m, "jpn") for m in ("protonet", "multitask")}
rows[("D", "protonet")] = result_row(RUNS["D"], "protonet", "jpn")
for (run, _), row in rows.items():
    print(f"{run}: {result_summary(row)}")
for name, a, b in (("D protonet − C multitask (the best baseline)", ("D", "protonet"), ("C", "multitask")),
                   ("D protonet − A multitask", ("D", "protonet"), ("A", "multitask")),
                   ("D protonet − C protonet (every group scored)", ("D", "protonet"), ("C", "protonet")),
                   ("D protonet − φ⁰ (A finetune)", ("D", "protonet"), ("A", "finetune")),
                   ("C protonet − C multitask", ("C", "protonet"), ("C", "multitask"))):
    print(f"  {name}: {paired_difference(rows[a], rows[b])}")
