"""Edit a classifier, top to bottom (the editing issue): split the training languages' rows by translation group,
train the classifier to edit on its share (the multitask objective, into OUTPUT_DIR/base/multitask/), choose the
memory's radius on the editor-training rows, meta-train the learned editor of --algorithm (mend or enn) on the engine,
then run it and every editor of --baselines (ft, ft_kl, memory) over the same seeded edit streams of the
editing-evaluation rows (the classifier's mistakes, and counterfactual labels), scoring single edits and sequential
ones after each checkpoint's number of edits (meta_nlp/evaluation/editing.py).

Also here: editing a saved classifier (`apply_edits`, scripts/edit.py) and pooling seeds (`pool_editing_seeds`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from safetensors.torch import load_file

from meta_nlp.config import EDITORS, MetaConfig
from meta_nlp.data.edits import EditSplit, held_out_translations, set_apart_edit_rows
from meta_nlp.data.episodes import Corpus
from meta_nlp.data.languages import prepare_languages
from meta_nlp.engine.trainer import EngineSettings, Trainer, make_accelerator
from meta_nlp.evaluation.editing import Edit, Row, accuracy, edit_stream, single_edit_scores, stream_scores
from meta_nlp.evaluation.report import editing_section, plot_editing, write_results
from meta_nlp.evaluation.stats import bootstrap_difference
from meta_nlp.errors import MetaNLPError
from meta_nlp.learner import META_FILE, Classifier, resolve_learner_dir, save_head, save_learner
from meta_nlp.models.editors import MEND, EditableClassifier, EditSettings, ft_edit, mend_edit, memory_edit
from meta_nlp.objectives.editing import EDITOR_FILE, EDITOR_META, EditableWeights, ENNObjective, MENDObjective
from meta_nlp.recipes.meta_learn import MULTITASK_DIR, train

BASE_DIR = "base"
LOCALITY_ROWS = 300  # held-back rows on which locality and drawdown are measured
KL_ROWS = 16  # ft_kl's locality rows (editor-training rows)
SINGLE_EDITS = 100  # the one-edit metrics: means over this many edits of a stream, each on the unedited classifier
HELD_BACK_STREAM = 15  # the random stream that samples them
RADIUS_GRID = (0.05, 0.1, 0.2, 0.3, 0.5)  # the memory's radius candidates (unit-norm embeddings: distances in [0, 2])


def run_editing(cfg: MetaConfig, accelerator: Accelerator | None = None) -> dict:
    """Train the classifier to edit and the learned editor (--algorithm), then score it and every editor of
    --baselines on both streams; returns and writes the `editing` rows."""
    methods = [cfg.algorithm, *cfg.baselines]
    acc = accelerator or make_accelerator(cfg)
    set_seed(cfg.seed)
    split = set_apart_edit_rows(cfg, prepare_languages(cfg), cfg.edit_fraction)
    base_dir, training = classifier_to_edit(cfg, split, acc)
    classifier = Classifier.from_pretrained(str(base_dir), device=str(acc.device))  # read once: edits never change it
    evaluation_rows, translations = labelled_rows(split.editor_eval, split, classifier.labels)
    tuning_rows, tuning_translations = labelled_rows(split.editor_train, split, classifier.labels)
    held_back = sample(labelled_rows(split.base.val, split, classifier.labels)[0], LOCALITY_ROWS, cfg.seed)
    kl_texts = [r.text for r in sample(tuning_rows, KL_ROWS, cfg.seed)]  # ft_kl's: never the scored rows
    radius = memory_radius(cfg, classifier, tuning_rows, tuning_translations)
    trained, training[cfg.algorithm] = train_editor(cfg, classifier, tuning_rows, tuning_translations)
    if cfg.algorithm == "enn":  # editable training changes the classifier itself: by how much, before any edit
        training["enn"]["accuracy_before_edits"] = {
            "base": accuracy(editable(cfg, classifier, 0.0), held_back),
            "enn": accuracy(editable(cfg, classifier, 0.0, trained), held_back)}
    held_out = held_out_translations(cfg, split.base)
    rows, stream_lengths = [], {}
    for counterfactual in (False, True):
        name = "counterfactual" if counterfactual else "mistakes"
        stream = edit_stream(editable(cfg, classifier, 0.0), evaluation_rows, translations, cfg.seed, counterfactual)
        stream_lengths[name] = len(stream)
        for edit in stream:  # read after all training and tuning: the final evaluation
            edit.held_out_equivalents = held_out.get(edit.group, [])
        sequential = sorted({min(t, len(stream)) for t in cfg.edit_checkpoints if t > 1})  # T past the stream: all
        for method in methods:
            model = editable(cfg, classifier, radius, trained if method == "enn" else None)
            apply_edit = editor(cfg, method, model, kl_texts, trained)
            scored = [single_edit_scores(model, apply_edit, stream[:SINGLE_EDITS], held_back, method, name)
                      ] if 1 in cfg.edit_checkpoints and stream else []
            scored += stream_scores(model, apply_edit, stream[:max(sequential, default=0)], sequential, held_back,
                                    method, name)
            rows += [r | {"editor_params": editor_size(method, trained, model, r["n_edits"])} for r in scored]
    rows = with_generality_vs_ft(rows)
    out = {"editing": rows, "training": training, "memory_radius": radius, "base_classifier": str(base_dir),
           "classifier_accuracy": accuracy(editable(cfg, classifier, 0.0), held_back),
           "stream_lengths": stream_lengths}
    if acc.is_main_process:
        write_editing_outputs(Path(cfg.output_dir), cfg, out)
    return out


def with_generality_vs_ft(rows: list[dict]) -> list[dict]:
    """Each one-edit row with `generality_vs_ft`: its generality minus ft's, paired over the same edits (those with
    translations), with the 95% bootstrap interval (mean, low, high); ft's own row and runs without ft get none."""
    ft = {r["stream"]: r["per_edit_generality"] for r in rows if r["n_edits"] == 1 and r["method"] == "ft"}
    for r in rows:
        if r["n_edits"] == 1 and r["method"] != "ft" and r["stream"] in ft:
            pairs = [(a, b) for a, b in zip(r["per_edit_generality"], ft[r["stream"]]) if a is not None]
            r["generality_vs_ft"] = list(bootstrap_difference(*zip(*pairs))) if len(pairs) > 1 else None
    return rows


def classifier_to_edit(cfg: MetaConfig, split: EditSplit, acc: Accelerator) -> tuple[Path, dict]:
    """(the saved classifier to edit, its training record): --base-classifier when given (checked to come from this
    split: its training rows must not hold the edits), else trained here on the split's classifier rows."""
    fingerprint = split_fingerprint(cfg, split)
    if cfg.base_classifier:
        path = resolve_learner_dir(cfg.base_classifier)
        Classifier.from_pretrained(str(path))  # a one-line error for a run without a head
        if json.loads((path / META_FILE).read_text()).get("edit_split") != fingerprint:
            raise MetaNLPError(f"--base-classifier {cfg.base_classifier} was not trained on this run's split (--seed, "
                               "--edit-fraction, languages): its training rows could hold the edits")
        return path, {"base": {"reused": cfg.base_classifier}}
    base_cfg = replace(cfg, output_dir=str(Path(cfg.output_dir) / BASE_DIR), multitask_steps=cfg.base_classifier_steps)
    record = train("multitask", base_cfg, split.base, acc)
    path = Path(base_cfg.output_dir) / MULTITASK_DIR / "best"
    if acc.is_main_process:  # the split it trained on, so that a later run can reuse it safely
        meta = json.loads((path / META_FILE).read_text())
        (path / META_FILE).write_text(json.dumps({**meta, "edit_split": fingerprint}, indent=2))
    acc.wait_for_everyone()
    return path, {"base": record}


def split_fingerprint(cfg: MetaConfig, split: EditSplit) -> str:
    """A hash of which translation groups went where (and of the seed and share that chose them)."""
    groups = sorted({(split.groups[(lang, t)], kind) for kind, corpus in (("train", split.editor_train),
                                                                          ("eval", split.editor_eval))
                     for lang, by_label in corpus.items() for texts in by_label.values() for t in texts})
    return hashlib.sha256(json.dumps([cfg.seed, cfg.edit_fraction, groups]).encode()).hexdigest()[:16]


def write_editing_outputs(output_dir: Path, cfg: MetaConfig, out: dict) -> None:
    """results.json (its `editing` rows), report.md (the Editing table) and editing.png."""
    write_results(output_dir, cfg.to_dict(), [], out)
    lines = [f"# meta_nlp editing: {cfg.task}, held out {', '.join(cfg.held_out_language)}", "",
             f"The classifier to edit: `{out['base_classifier']}` (accuracy {out['classifier_accuracy']:.3f} on the "
             f"held-back rows); edits in the streams: {out['stream_lengths']}; the memory's radius "
             f"{out['memory_radius']:g} (chosen on editor-training rows). One edit: the mean over up to {SINGLE_EDITS} "
             "edits, each made alone on the unedited classifier.", *editing_section(out["editing"]), "", "![editing metrics](editing.png)", ""]
    (output_dir / "report.md").write_text("\n".join(lines))
    plot_editing(output_dir, out["editing"])


def labelled_rows(corpus: Corpus, split: EditSplit, labels: list[str]) -> tuple[list[Row], dict[str, list[Row]]]:
    """The corpus's rows whose label the classifier has, and the rows of each translation group."""
    rows = [Row(text, labels.index(label), lang, split.groups[(lang, text)])
            for lang, by_label in sorted(corpus.items()) for label, texts in sorted(by_label.items())
            if label in labels for text in texts]
    translations: dict[str, list[Row]] = {}
    for row in rows:
        translations.setdefault(row.group, []).append(row)
    return rows, translations


def sample(rows: list[Row], n: int, seed: int) -> list[Row]:
    order = np.random.default_rng([seed, HELD_BACK_STREAM]).permutation(len(rows))[:n]
    return [rows[i] for i in sorted(order)]


def editable(cfg: MetaConfig, classifier: Classifier, radius: float,
             enn: EditableWeights | None = None) -> EditableClassifier:
    """The unedited classifier with weights of its own to edit (every editor starts from it; ENN's from its trained
    weights)."""
    model = EditableClassifier(classifier, cfg.edit_layers)
    model.radius = radius
    if enn is not None:
        model.weights = {k: v.detach().clone() for k, v in enn.as_dict().items()}
    return model


def editor(cfg: MetaConfig, method: str, model: EditableClassifier | None, kl_texts: list[str] = (),
           trained: MEND | EditableWeights | None = None):
    """The function that applies one edit with `method` (`trained`: the learned editor of --algorithm; `kl_texts`:
    the rows whose unedited predictions ft_kl keeps)."""
    if method == "memory":
        return lambda m, e: memory_edit(m, e.text, e.label)
    if method == "mend":
        return lambda m, e: mend_edit(m, trained, e.text, e.label)
    if method == "enn":  # SGD at the learned rates until the edit holds
        settings = EditSettings(trained.edit_lrs(), cfg.edit_max_steps)
        return lambda m, e: ft_edit(m, e.text, e.label, settings)
    with torch.no_grad():  # their unedited distribution, fixed before any edit
        probs = torch.softmax(model.logits(list(kl_texts)), -1) if kl_texts else None
    kl_weight = cfg.edit_kl_weight if method == "ft_kl" else 0.0
    edit_settings = EditSettings(cfg.edit_lr, cfg.edit_max_steps, kl_weight, list(kl_texts), probs)
    return lambda m, e: ft_edit(m, e.text, e.label, edit_settings)


def editor_size(method: str, trained: torch.nn.Module, model: EditableClassifier, n_edits: int) -> int:
    """Numbers an editor keeps besides the classifier: a learned editor's parameters (ENN's: its learned rates, the
    weights it trains being the classifier's own), the memory's keys after n_edits, none for ft and ft_kl."""
    if method == "mend":
        return sum(p.numel() for p in trained.parameters())
    if method == "enn":
        return trained.lrs.numel()
    if method == "memory":
        return n_edits * model.classifier.learner.model.encoder.config.hidden_size
    return 0


def train_editor(cfg: MetaConfig, classifier: Classifier, rows: list[Row],
                 translations: dict[str, list[Row]]) -> tuple[MEND | EditableWeights, dict]:
    """Meta-train the editor of --algorithm on the engine (OUTPUT_DIR/<algorithm>: checkpoints, resume, its best/ by
    model selection) and load the selected one: MEND's network, or ENN's trained weights and rates."""
    set_seed(cfg.seed)
    build = MENDObjective if cfg.algorithm == "mend" else ENNObjective
    objective = build(cfg, editable(cfg, classifier, 0.0), rows, translations)
    out = Path(cfg.output_dir) / cfg.algorithm
    resume = "latest" if cfg.resume_from_checkpoint else None
    record = Trainer(objective, EngineSettings.from_config(cfg, output_dir=str(out), max_steps=cfg.editor_steps,
                                                           resume_from_checkpoint=resume,
                                                           desc=f"train {cfg.algorithm}")).train()
    record["edit_lr_start"] = objective.edit_lr_start
    (module,) = objective.trained_modules().values()
    module.load_state_dict(load_file(str(out / "best" / EDITOR_FILE)))
    return module.eval(), record


def memory_radius(cfg: MetaConfig, classifier: Classifier, rows: list[Row],
                  translations: dict[str, list[Row]]) -> float:
    """The radius with the best mean of success, generality and locality over a mistakes stream of the
    editor-training rows, locality on their other translation groups (never the evaluation's rows)."""
    stream: list[Edit] = edit_stream(editable(cfg, classifier, 0.0), rows, translations, cfg.seed)[:100]
    if not stream:
        return RADIUS_GRID[0]
    edited = {e.group for e in stream}
    unrelated = sample([r for r in rows if r.group not in edited], LOCALITY_ROWS, cfg.seed)
    scores = {}
    for radius in RADIUS_GRID:
        (last,) = stream_scores(editable(cfg, classifier, radius), editor(cfg, "memory", None),
                                stream, [len(stream)], unrelated, "memory", "tuning")
        scores[radius] = np.mean([last["edit_success"], last["generality"] or 0.0, last["locality"]])
    return max(scores, key=lambda r: (scores[r], -r))


# ---------------------------------------------------------------------------------- editing a saved classifier
def apply_edits(run: str, edits: list[tuple[str, str]], output_dir: Path, edit_layers: int, lr: float,
                max_steps: int, editor_path: str | None = None) -> list[dict]:
    """Give each text its label (in order) on a saved classifier (a run with a head, e.g. OUTPUT_DIR/base/multitask or
    a multitask baseline), with `ft` or with the trained editor at `editor_path` (an editing run's folder, or its
    mend/best or enn/best), and save the edited classifier to `output_dir` as a run (it loads and pushes like any
    run; its meta_nlp.json and results.json list the edits). Returns one record per edit: steps taken (ft, enn) and
    whether it holds."""
    classifier = Classifier.from_pretrained(run)
    for text, label in edits:
        if not text.strip():
            raise MetaNLPError("an edit needs a text (got an empty one)")
        if label not in classifier.labels:
            raise MetaNLPError(f"label {label!r} is not one of the classifier's: {', '.join(classifier.labels)}")
    if editor_path:
        method, model, apply_edit = trained_editor(editor_path, classifier, run)
    else:
        method, model = "ft", EditableClassifier(classifier, edit_layers)
        settings = EditSettings(lr, max_steps)
        apply_edit = lambda m, text, label: ft_edit(m, text, label, settings)  # noqa: E731
    base = model.base_fingerprint()
    records = []
    for text, label in edits:
        steps = apply_edit(model, text, classifier.labels.index(label))
        records.append({"text": text, "label": label, "method": method, "steps": steps,
                        "holds": model.predict([text])[0] == classifier.labels.index(label)})
    save_edited(model, output_dir, run, records, base)
    return records


def trained_editor(path: str, classifier: Classifier, run: str):
    """(method, the classifier ready to edit, apply(model, text, label)) of the trained editor saved at `path`; a
    one-line error when it was trained for another classifier."""
    folder = next((d for d in (Path(path), *(Path(path) / m / "best" for m in EDITORS))
                   if (d / EDITOR_FILE).is_file() and (d / EDITOR_META).is_file()), None)
    if folder is None:
        raise MetaNLPError(f"{path} holds no trained editor ({EDITOR_FILE} and {EDITOR_META}; an editing run's "
                           "folder, or its mend/best or enn/best)")
    info = json.loads((folder / EDITOR_META).read_text())
    model = EditableClassifier(classifier, info["edit_layers"])
    if model.base_fingerprint() != info["classifier"]:
        raise MetaNLPError(f"the editor at {folder} was trained for another classifier than {run}: an "
                           "editor only edits the classifier of its editing run (OUTPUT_DIR/base/multitask), or "
                           "classifiers edited from it")
    device = classifier.learner.device
    if info["method"] == "mend":
        mend = MEND(model, info["edit_layers"], info["editor_rank"], 0.0).to(device)
        mend.load_state_dict(load_file(str(folder / EDITOR_FILE), device=str(device)))
        return "mend", model, lambda m, text, label: mend_edit(m, mend.eval(), text, label)
    enn = EditableWeights(model.weights, 0.0)
    enn.load_state_dict(load_file(str(folder / EDITOR_FILE), device=str(device)))
    if model.weights_hash() == info["classifier"]:  # the unedited classifier: ENN edits its trained weights
        model.weights = {k: v.detach().clone() for k, v in enn.as_dict().items()}
    settings = EditSettings(enn.edit_lrs(), info["edit_max_steps"])
    return "enn", model, lambda m, text, label: ft_edit(m, text, label, settings)


def save_edited(model: EditableClassifier, output_dir: Path, run: str, records: list[dict], base: str) -> None:
    """The edited weights written back into a copy of the classifier, saved as a run (OUTPUT_DIR/best, and a
    results.json of the edits) that lists its edits; `base`: the fingerprint of the classifier they started from."""
    learner = model.classifier.learner
    encoder = learner.model.encoder
    with torch.no_grad():
        parameters = dict(encoder.named_parameters())
        for name, value in model.weights.items():
            if not name.startswith("head."):
                parameters[name].copy_(value)
    previous = learner.meta.get("edits", [])
    extra = {k: v for k, v in learner.meta.items() if k not in ("method", "config", "labels")}
    extra.update({"edits": previous + records, "edited_from": learner.meta.get("edited_from", run), "edit_base": base})
    best = Path(output_dir) / "best"
    save_learner(best, learner.model, learner.tokenizer, learner.cfg, extra=extra, method=learner.meta.get("method"))
    save_head(best, {k.removeprefix("head."): v for k, v in model.weights.items() if k.startswith("head.")},
              model.labels)
    write_results(Path(output_dir), learner.cfg.to_dict(), [], {"edits": extra["edits"],
                                                                 "edited_from": extra["edited_from"]})


# ---------------------------------------------------------------------------------- pooling seeds
WHOLE_STREAM = -1  # the pooling key of each seed's whole-stream row
POOLED_METRICS = ("edit_success", "generality", "generality_latin", "generality_held_out", "locality", "drawdown", "retention",
                  "latency_s")


def pool_editing_seeds(run_dirs: list[Path], output_dir: Path) -> dict:
    """Finished editing runs of one task and held-out language (any editors, e.g. a mend and an enn run per seed,
    the second reusing the first's classifier) as one table: each (method, stream, edits) row's metrics averaged
    over seeds (each seed has its own classifier and streams; the whole-stream rows pool together, their number of
    edits the mean of the seeds'), the one-edit generality vs ft paired over every
    seed's edits and resampled within seeds, and `*_by_seed`. Writes OUTPUT_DIR/results.json, report.md and
    editing.png."""
    runs = [json.loads((Path(d) / "results.json").read_text()) for d in run_dirs]
    if any("editing" not in run for run in runs):
        raise MetaNLPError("pool editing runs (their results.json has an 'editing' table)")
    where = {(r["config"]["task"], tuple(r["config"]["held_out_language"])) for r in runs}
    if len(where) > 1:
        raise MetaNLPError(f"pool editing runs of one task and held-out language, got {sorted(where)}")
    by_key: dict[tuple, dict[int, dict]] = {}  # (method, stream, edits) -> seed -> row (a seed's reruns: the first)
    for run in runs:
        for r in run["editing"]:
            whole = r["n_edits"] > 1 and r["n_edits"] == r["n"]  # the whole stream: its length differs by seed
            key = (r["method"], r["stream"], WHOLE_STREAM if whole else r["n_edits"])
            by_key.setdefault(key, {}).setdefault(run["config"]["seed"], r)
    rows = []
    for (method, stream, n_edits), seeds in by_key.items():
        row = {"method": method, "stream": stream, "seeds": sorted(seeds),
               "n_edits": round(np.mean([r["n_edits"] for r in seeds.values()])),
               "n_edits_by_seed": [seeds[s]["n_edits"] for s in sorted(seeds)],
               "n": sum(r["n"] for r in seeds.values()), "editor_params": max(r["editor_params"] for r in seeds.values())}
        for metric in POOLED_METRICS:
            by_seed = [seeds[s].get(metric) for s in row["seeds"]]
            known = [v for v in by_seed if v is not None]
            row[metric], row[f"{metric}_by_seed"] = (float(np.mean(known)) if known else None), by_seed
        ft = by_key.get(("ft", stream, n_edits), {})
        if n_edits == 1 and method != "ft" and ft:
            pairs = [(a, b, s) for s in row["seeds"] if s in ft for a, b in
                     zip(seeds[s]["per_edit_generality"], ft[s]["per_edit_generality"]) if a is not None]
            a, b, strata = zip(*pairs)
            row["generality_vs_ft"] = list(bootstrap_difference(a, b, strata=list(strata)))
        rows.append(row)
    rows.sort(key=lambda r: (r["stream"] != "mistakes", r["method"], r["n_edits"]))
    first = runs[0]["config"]
    out = {"editing": rows, "runs": [str(d) for d in run_dirs], "seeds": sorted({r["config"]["seed"] for r in runs}),
           "classifier_accuracy_by_seed": {r["config"]["seed"]: r.get("classifier_accuracy") for r in runs}}
    output_dir.mkdir(parents=True, exist_ok=True)
    write_results(output_dir, first | {"seed": out["seeds"]}, [], out)
    lines = [f"# meta_nlp editing: {first['task']}, held out {', '.join(first['held_out_language'])}, seeds "
             f"{out['seeds']} pooled", "", "Each metric is the mean over seeds; each seed has its own classifier "
             f"(accuracy on held-back rows by seed: {out['classifier_accuracy_by_seed']}) and its own edit streams.",
             *editing_section(rows), "", "![editing metrics](editing.png)", ""]
    (output_dir / "report.md").write_text("\n".join(lines))
    plot_editing(output_dir, rows)
    return out
