"""results.json, report.md and the accuracy-vs-adaptation-steps plot."""
from __future__ import annotations

import json
import platform
from pathlib import Path


def library_versions() -> dict:
    import accelerate, datasets, torch, transformers
    import meta_nlp
    return {"meta_nlp": meta_nlp.__version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "accelerate": accelerate.__version__, "datasets": datasets.__version__, "python": platform.python_version()}


def write_results(output_dir: Path, config: dict, results: list[dict], extra: dict | None = None) -> Path:
    path = Path(output_dir) / "results.json"
    path.write_text(json.dumps({"config": config, "versions": library_versions(), "results": results,
                                **(extra or {})}, indent=2))
    return path


def write_report(output_dir: Path, config: dict, results: list[dict], extra: dict | None = None) -> Path:
    lines = [f"# meta_nlp results: {config['task']}, {config['n_way']}-way {config['k_shot']}-shot",
             "",
             f"Model `{config['model']}`, meta-trained with `{config['algorithm']}` for {config['max_steps']} steps "
             f"(meta-batch {config['meta_batch_size']}, {config['inner_steps']} inner steps), seed {config['seed']}.",
             "Every method adapts on the same seeded held-out episodes; test-time lr and steps were chosen on "
             "meta-validation episodes of the training languages. ± is the 95% confidence interval over episodes.",
             "", "| language | method | accuracy | ± 95% CI | episodes | steps | lr × | accuracy by step 0..T |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        curve = " ".join(f"{x:.3f}" for x in r["accuracy_by_step"])
        lines.append(f"| {r['language']} | {r['method']} | {r['accuracy']:.4f} | {r['ci95']:.4f} | {r['n_episodes']} "
                     f"| {r['adapt_steps']} | {r['lr_factor']:g} | {curve} |")
    for r in results:
        if "vs_best_baseline" in r:
            v = r["vs_best_baseline"]
            lines += ["", f"- {r['method']} − {v['baseline']} on {r['language']} (paired over the same episodes): "
                          f"{v['difference']:+.4f} ± {v['ci95']:.4f}"]
    for key, value in (extra or {}).items():
        lines += ["", f"- {key}: {value}"]
    lines += ["", "![accuracy vs adaptation steps](accuracy_by_step.png)", ""]
    path = Path(output_dir) / "report.md"
    path.write_text("\n".join(lines))
    return path


def plot_accuracy_by_step(output_dir: Path, results: list[dict], n_way: int) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    languages = sorted({r["language"] for r in results})
    fig, axes = plt.subplots(1, len(languages), figsize=(5.5 * len(languages), 4), squeeze=False)
    for ax, lang in zip(axes[0], languages):
        for r in (r for r in results if r["language"] == lang):
            steps = range(len(r["accuracy_by_step"]))
            ax.plot(steps, r["accuracy_by_step"], marker="o", label=f"{r['method']} ({r['accuracy']:.3f}±{r['ci95']:.3f})")
        ax.axhline(1.0 / n_way, color="grey", linestyle=":", label="chance")
        ax.set(title=f"held-out language: {lang}", xlabel="adaptation steps on the support set",
               ylabel="query accuracy")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(output_dir) / "accuracy_by_step.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
