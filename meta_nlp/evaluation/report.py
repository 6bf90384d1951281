"""results.json, report.md and the accuracy-vs-adaptation-steps plot."""
from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

from meta_nlp.config import saved_config
from meta_nlp.data.languages import compared_method
from meta_nlp.evaluation.stats import interval


def library_versions() -> dict:
    import accelerate, datasets, torch, transformers
    import meta_nlp
    return {"meta_nlp": meta_nlp.__version__, "meta_nlp_commit": CODE_COMMIT, "torch": torch.__version__,
            "transformers": transformers.__version__, "accelerate": accelerate.__version__,
            "datasets": datasets.__version__, "python": platform.python_version()}


def code_commit() -> str | None:
    """The git commit of the meta_nlp checkout that ran ('+changes' when it had uncommitted ones): measured results
    are kept with the code (results/), so each names the code that made it. None outside a git checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True,
                                  timeout=10).stdout.strip()
        git("ls-files", "--error-unmatch", "meta_nlp/__init__.py")  # this package's own repository, not an enclosing one
        commit = git("rev-parse", "--short=12", "HEAD")
        return commit + ("+changes" if git("status", "--porcelain", "--untracked-files=no", "--", "meta_nlp") else "")
    except (OSError, subprocess.SubprocessError):
        return None


CODE_COMMIT = code_commit()  # read once, when the code is loaded: a run's checkout may move on while it runs


def write_results(output_dir: Path, config: dict, results: list[dict], extra: dict | None = None) -> Path:
    """OUTPUT_DIR/results.json, replaced whole or not at all: a run interrupted while writing it (Ctrl-C, a killed
    job) keeps the previous file instead of a truncated one that a resumed study could not read back, and two
    processes pooling into one study folder never interleave their writes."""
    path = Path(output_dir) / "results.json"
    text = json.dumps({"config": config, "versions": library_versions(), "results": results, **(extra or {})}, indent=2)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text)
        os.replace(partial, path)  # atomic on POSIX and Windows
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_report(output_dir: Path, config: dict, results: list[dict], extra: dict | None = None,
                 training: dict | None = None) -> Path:
    """report.md: the results table, paired differences, `extra` as lines; `training` (the meta-learner's record)
    only to say when model selection kept φ⁰. `config` may be a saved run's: the fields it predates read as it ran."""
    config = saved_config(config)
    if results and all(r.get("setting") == "supervised" for r in results):
        return write_zero_shot_report(output_dir, config, results, extra)
    lines = [f"# meta_nlp results: {config['task']}, {config['n_way']}-way {config['k_shot']}-shot", "",
             *([f"**Held-out task**: evaluated on `{config['held_out_task']}`, whose texts were never meta-trained "
                "on.", ""] if config.get("held_out_task") else []),
             f"Model `{config['model']}`, meta-trained with `{config['algorithm']}` for {config['max_steps']} steps "
             f"(meta-batch {config['meta_batch_size']}, --train-n-way {config['train_n_way']}, "
             f"{config['inner_steps']} inner steps), seed {config['seed']}.",
             "Every method adapts on the same seeded held-out episodes; checkpoints and test-time lr and steps were "
             f"chosen on meta-validation episodes of {selected_on(config)}. Predictions by {head_description(config)}. "
             "± is the 95% confidence interval over episodes.",
             "", "| language | method | K | accuracy | ± 95% CI | episodes | steps | lr × | accuracy by step 0..T |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        curve = " ".join(f"{x:.3f}" for x in r["accuracy_by_step"])
        lines.append(f"| {r['language']} | {r['method']} | {r['k_shot']} | {r['accuracy']:.4f} | {r['ci95']:.4f} "
                     f"| {r['n_episodes']} | {r['adapt_steps']} | {r['lr_factor']:g} | {curve} |")
    retrieval = [r for r in results if "retrieval" in r and r["k_shot"] == config["k_shot"]]
    if retrieval:
        lines += ["", "Full retrieval (Tatoeba's measure; the model without adaptation): share of sentences whose "
                      "nearest candidate among all of the language's pairs is their translation.", "",
                  "| language | method | → pivot | pivot → | pairs |", "|---|---|---|---|---|"]
        lines += [f"| {r['language']} | {r['method']} | {r['retrieval']['to_pivot']:.4f} | "
                  f"{r['retrieval']['from_pivot']:.4f} | {r['retrieval']['n_pairs']} |" for r in retrieval]
        read = {r["language"]: r["candidates_read_in_training"] for r in retrieval if "candidates_read_in_training" in r}
        lines += [""] + [f"- {lang}: {share:.1%} of the held-out candidates (pivot sentences) are the pivot side of a "
                         "pair meta-training or model selection read" for lang, share in read.items()]
    for r in results:
        if "vs_best_baseline" in r:
            v = r["vs_best_baseline"]
            lines += ["", f"- {r['method']} − {v['baseline']} on {r['language']}, K={r['k_shot']} (paired over the "
                          f"same episodes, 95% bootstrap interval): {interval(v)}"]
    extra = dict(extra or {})
    lines += kept_start_note(config, training) + compared_selection_note(config, training)
    if "distillation" in extra:
        lines += distillation_section(extra.pop("distillation"), config)
    for key, value in extra.items():
        lines += ["", f"- {key}: {value}"]
    lines += ["", "![accuracy vs adaptation steps](accuracy_by_step.png)", ""]
    path = Path(output_dir) / "report.md"
    path.write_text("\n".join(lines))
    return path


def head_description(config: dict) -> str:
    """What predicts at test time under a run's config, in words (--test-time-head, --label-name-weight), as reports
    and model cards say it."""
    head = {"logistic": "a logistic regression fit on the support embeddings",
            "transductive": "a logistic regression fit on the support embeddings and refit with the episode's query "
                            "texts, soft-labelled by itself"}.get(config.get("test_time_head"),
                                                                    "the per-episode head, adapted with the encoder")
    if config.get("label_name_weight"):
        head += f", plus {config['label_name_weight']:g} × each text's cosine with each label's name"
    return head + (" (SetFit: its own head)" if "setfit" in (config.get("baselines") or []) else "")


def selected_on(config: dict) -> str:
    """Whose validation episodes selected the run's checkpoints and test-time settings: which languages, or labels."""
    if config.get("validation_labels"):
        return (f"the validation labels {', '.join(config['validation_labels'])} in the training languages (never "
                "meta-trained on)")
    chosen = config.get("validation_languages")
    return f"the validation languages {', '.join(chosen)} (never meta-trained on)" if chosen else \
        "the training languages (their --val-fraction share)"


def compared_selection_note(config: dict, training: dict | None) -> list[str]:
    """The checkpoint step each selection rule kept on this run (the rows `<algorithm>@<rule>` give its accuracy)."""
    compared = (training or {}).get("compared_selection", {})
    if not compared:
        return []
    kept = "; ".join(f"on {rule}: step {c['selected_step']} ({compared_method(config['algorithm'], rule)} above)"
                     for rule, c in compared.items())
    own = "labels" if config.get("validation_labels") else "languages"
    return ["", f"**Selection rules compared on this meta-training**: the validation {own} kept step "
                f"{training['selected_step']} ({config['algorithm']} above); {kept}."]


def kept_start_note(config: dict, training: dict | None) -> list[str]:
    """A warning when model selection kept φ⁰ (step 0 scored best on meta-validation): the meta-learned model is then
    the pretrained encoder itself, and the meta-learner adapts as `finetune` does."""
    if not training or training.get("selected_step") != 0 or not training.get("steps"):
        return []
    return ["", f"**Model selection kept φ⁰**: no checkpoint of the {training['steps']} meta-training steps scored above "
                "the pretrained encoder on meta-validation, so this run's meta-learned model is the starting encoder "
                f"and `{config['algorithm']}` adapts like `finetune` (same start; only its test-time lr and steps "
                "may differ). More --max-steps or another --meta-lr may move it."]


def write_zero_shot_report(output_dir: Path, config: dict, results: list[dict], extra: dict | None = None) -> Path:
    """The report of supervised distillation: classifiers of the training languages' labels on held-out rows."""
    lines = [f"# meta_nlp results: {config['task']}, zero-shot classification of held-out rows", "",
             f"Classifiers over the training languages' labels, trained {config['max_steps']} steps on their pooled "
             f"rows, seed {config['seed']}; every held-out row whose label they have is labelled, with no example of "
             "its language. ± is the 95% confidence interval over rows.", "",
             "| language | method | accuracy | ± 95% CI | macro-F1 | rows | majority label's share |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['language']} | {r['method']} | {r['accuracy']:.4f} | {r['ci95']:.4f} | {r['macro_f1']:.4f} "
              f"| {r['n_rows']} | {r['majority_share']:.4f} |" for r in results]
    extra = dict(extra or {})
    if "distillation" in extra:
        lines += distillation_section(extra.pop("distillation"), config)
    lines += ["", *[f"- {key}: {value}" for key, value in extra.items()], ""]
    path = Path(output_dir) / "report.md"
    path.write_text("\n".join(lines))
    return path


def distillation_section(rows: list[dict], config: dict) -> list[str]:
    """The "Distillation" table: size, speed, accuracy, the teacher's gain kept, and paired differences."""
    lines = ["", "## Distillation", "",
             f"Teacher `{config['teacher']}`; " + (
                 "students trained as classifiers of the pooled training rows, on the same batches "
                 if config.get("distill_setting") == "supervised" else
                 f"students meta-trained with `{config['algorithm']}` on the same episodes ")
             + f"(KD: α = {config['kd_alpha']}, T = {config['kd_temperature']}). texts/s: embedding "
             "texts in batches of 32, measured in this run. Retention: (accuracy − chance) / (teacher − chance), chance "
             "being 1/N of an episode, or the majority label's share of zero-shot rows. Differences are paired over the "
             "same episodes or rows (95% bootstrap interval).", "",
             "| language | method | parameters | texts/s | accuracy | retention | − student | − student_kd |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        retention = f"{r['retention']:.1%}" if "retention" in r else ""
        vs = [interval(r[k]) if k in r else "" for k in ("vs_student", "vs_student_kd")]
        lines.append(f"| {r['language']} | {r['method']} | {r['parameters'] / 1e6:.1f}M | {r['texts_per_s']:.0f} "
                     f"| {r['accuracy']:.4f} ± {r['ci95']:.4f} | {retention} | {vs[0]} | {vs[1]} |")
    return lines


def editing_section(rows: list[dict]) -> list[str]:
    """The "Editing" table: every editor on every stream, for one edit and after each checkpoint's number of
    sequential edits."""
    def cell(value, fmt="{:.3f}"):
        return "" if value is None else fmt.format(value)

    def versus_ft(r):
        d = r.get("generality_vs_ft")
        return "" if not d else f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]"
    lines = ["", "## Editing", "",
             "Edits: 1 = the mean over single edits, each made on the unedited classifier; more = edits applied one "
             "after another to the same classifier. Locality: agreement with the unedited classifier's predictions on "
             "held-back rows; drawdown: their accuracy lost, in points; retention: share of all edits so far that "
             "still hold; generality: the edits' translations in the training languages (Latin: those in Latin script; "
             "held out: in the held-out languages) that take the edit's label; vs ft: generality minus ft's over the same single edits, with "
             "its paired 95% bootstrap interval.", "",
             "| stream | method | edits | success | generality | vs ft | generality (Latin) | generality (held out) | "
             "locality | drawdown | retention | s/edit | editor size |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['stream']} | {r['method']} | {r['n_edits']} | {r['edit_success']:.3f} | "
                     f"{cell(r['generality'])} | {versus_ft(r)} | {cell(r.get('generality_latin'))} | "
                     f"{cell(r['generality_held_out'])} | "
                     f"{r['locality']:.3f} | {r['drawdown']:+.2f} | {r['retention']:.3f} | {r['latency_s']:.3f} | "
                     f"{r.get('editor_params', 0):,} |")
    return lines


def plot_editing(output_dir: Path, rows: list[dict]) -> Path:
    """Retention, locality and generality against the number of edits, one panel per metric, a line per
    (method, stream)."""
    plt = pyplot()
    metrics = ("retention", "locality", "generality")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for method, stream in dict.fromkeys((r["method"], r["stream"]) for r in rows):
            line = [r for r in rows if (r["method"], r["stream"]) == (method, stream) and r[metric] is not None]
            ax.plot([r["n_edits"] for r in line], [r[metric] for r in line], marker="o",
                    linestyle="-" if stream == "mistakes" else "--", label=f"{method} ({stream})")
        ax.set_xscale("log")
        ax.set(title=metric, xlabel="sequential edits", ylim=(0, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, output_dir, "editing.png")


def pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt
    return plt


def finish_axes(ax, n_way: int, title: str, xlabel: str, grid_axis: str = "both") -> None:
    """Chance line, labels, legend and grid: what every accuracy plot shares."""
    ax.axhline(1.0 / n_way, color="grey", linestyle=":", label="chance")
    ax.set(title=title, xlabel=xlabel, ylabel="query accuracy")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis=grid_axis)


def save_figure(fig, output_dir: Path, name: str) -> Path:
    fig.tight_layout()
    path = Path(output_dir) / name
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
    return path


def axes_per_language(results: list[dict]) -> tuple[object, list[tuple[object, str]]]:
    """A figure with one plot per held-out language of `results`: (figure, [(axes, language)])."""
    languages = sorted({r["language"] for r in results})
    fig, axes = pyplot().subplots(1, len(languages), figsize=(5.5 * len(languages), 4), squeeze=False)
    return fig, list(zip(axes[0], languages))


def plot_accuracy_by_step(output_dir: Path, results: list[dict], n_way: int) -> Path:
    from matplotlib.ticker import MaxNLocator
    fig, plots = axes_per_language(results)
    for ax, lang in plots:
        for r in (r for r in results if r["language"] == lang):
            steps = range(len(r["accuracy_by_step"]))
            ax.plot(steps, r["accuracy_by_step"], marker="o", label=f"{r['method']} ({r['accuracy']:.3f}±{r['ci95']:.3f})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
        finish_axes(ax, n_way, f"held-out language: {lang}", "adaptation steps on the support set")
    return save_figure(fig, output_dir, "accuracy_by_step.png")


def plot_accuracy_by_language(output_dir: Path, results: list[dict], n_way: int) -> Path:
    """Bars: accuracy ± 95% CI of every method on every held-out language (one K)."""
    plt = pyplot()
    import numpy as np
    languages = sorted({r["language"] for r in results})
    methods = list(dict.fromkeys(r["method"] for r in results))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(languages) * len(methods) ** 0.5 + 2), 4))
    for i, method in enumerate(methods):
        rows = {r["language"]: r for r in results if r["method"] == method}
        x = np.arange(len(languages)) + (i - (len(methods) - 1) / 2) * width
        ax.bar(x, [rows[lang]["accuracy"] if lang in rows else np.nan for lang in languages], width,
               yerr=[rows[lang]["ci95"] if lang in rows else 0 for lang in languages], capsize=3, label=method)
    ax.set_xticks(range(len(languages)), languages)
    finish_axes(ax, n_way, "accuracy per held-out language (± 95% CI)", "held-out language", grid_axis="y")
    return save_figure(fig, output_dir, "accuracy_by_language.png")


def plot_accuracy_by_shots(output_dir: Path, results: list[dict], n_way: int) -> Path:
    """Accuracy ± 95% CI against the test-time shots K, one panel per held-out language."""
    plt = pyplot()
    languages = sorted({r["language"] for r in results})
    fig, axes = plt.subplots(1, len(languages), figsize=(5.5 * len(languages), 4), squeeze=False)
    for ax, lang in zip(axes[0], languages):
        for method in dict.fromkeys(r["method"] for r in results):
            rows = sorted((r for r in results if r["language"] == lang and r["method"] == method), key=lambda r: r["k_shot"])
            ax.errorbar([r["k_shot"] for r in rows], [r["accuracy"] for r in rows], yerr=[r["ci95"] for r in rows],
                        marker="o", capsize=3, label=method)
        shots = sorted({r["k_shot"] for r in results})
        ax.set_xscale("log")  # K = 1, 2, 5, 10 spread evenly
        ax.minorticks_off()
        ax.set_xticks(shots, [str(k) for k in shots])
        finish_axes(ax, n_way, f"held-out language: {lang}", "shots K per class")
    return save_figure(fig, output_dir, "accuracy_by_shots.png")
