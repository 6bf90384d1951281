"""Publish a finished run to the Hugging Face Hub as a model anyone can load.

The repository root is the run's `best/` learner (so `MetaLearner.from_pretrained("<repo id>")`
works), plus results.json, report.md, the accuracy plot and a model card (README.md).
Resumable checkpoints (checkpoints/checkpoint_N) are never uploaded, nor any absolute path of this machine
(the uploaded configs, report and card show paths relative to the run folder, or only by name).

`push_run` does not know about processes: in a multi-process (accelerate) run, callers must
call it on the main process only, after the run's outputs are written.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

import huggingface_hub
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from meta_nlp.config import DEFAULT_MODEL, MetaConfig, flag, saved_config
from meta_nlp.errors import MetaNLPError
from meta_nlp.evaluation.report import distillation_section, head_description, selected_on
from meta_nlp.learner import META_FILE

UPLOAD_DIR_NAME = "hub_upload"
RUN_FILES = ("results.json", "report.md", "accuracy_by_step.png")  # uploaded next to the learner when present
DATASET_OF_TASK = {"chatterbot_topics": "chatterbot-corpus"}
PLACEHOLDER_REPO_ID = "USER/NAME"
TRUTHY = ("1", "true", "yes", "on")  # how huggingface_hub itself reads HF_HUB_OFFLINE


@dataclass
class Run:
    """What the card is written from: results.json and the saved learner's meta_nlp.json."""
    path: Path
    results: dict
    meta: dict

    @property
    def config(self) -> dict:
        """The run's settings, with the fields it predates as it ran (`saved_config`)."""
        return saved_config(self.results.get("config") or self.meta["config"])

    @property
    def method(self) -> str:
        """The method's name in results.json: a distilled student's (student_kd, ...), else the saved method."""
        return self.meta.get("distillation", {}).get("method") or self.meta.get("method") or self.config["algorithm"]

    @property
    def train_languages(self) -> list[str]:
        return list(self.results.get("train_languages") or self.meta.get("train_languages")
                    or self.config.get("train_languages") or [])

    @property
    def held_out_languages(self) -> list[str]:
        return list(self.config.get("held_out_language") or [])


# --- reading a run ------------------------------------------------------------------------

def best_dir_of(run_dir: Path) -> Path:
    best = Path(run_dir) / "best"
    if not (best / META_FILE).is_file():
        raise MetaNLPError(f"{run_dir} has no saved learner (best/{META_FILE} not found): "
                           f"pass the --output-dir of a finished meta_train run")
    return best


def read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise MetaNLPError(f"{path.parent} has no {path.name}: {what}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise MetaNLPError(f"{path} is not valid JSON (line {e.lineno}): {e.msg}") from None


def read_run(run_dir: Path) -> Run:
    run_dir = Path(run_dir)
    meta = read_json(best_dir_of(run_dir) / META_FILE, "the saved learner is incomplete")
    results = read_json(run_dir / "results.json", "the run did not finish its evaluation")
    return Run(run_dir, results, meta)


# --- nothing of this machine is published -------------------------------------------------
# The run's own files keep its absolute paths; what is uploaded (and what --hub-dry-run writes)
# shows them relative to the run folder, or only by name.

UNPUBLISHED_FLAGS = ("--output-dir", "--resume-from-checkpoint", "--hub-token")  # where it ran, and a secret


def is_local_path(value: str) -> bool:
    return value.startswith(("/", "~/")) or value == "~"


def packaged_model_dir() -> Path | None:
    from meta_nlp.models.encoder import resolve_model_path
    path = resolve_model_path(DEFAULT_MODEL)
    return None if path == DEFAULT_MODEL else Path(path).resolve()


def shareable_path(value: str, run_dir: Path) -> str:
    """An absolute path as the Hub sees it: the packaged default model as its id, a path in the run relative to
    the run folder ('.' for the run itself), any other as '.../NAME'. Anything else is returned unchanged."""
    if not is_local_path(value):
        return value
    path, run_dir = Path(value).expanduser().resolve(), Path(run_dir).resolve()
    if path == packaged_model_dir():
        return DEFAULT_MODEL
    if path.is_relative_to(run_dir):
        return path.relative_to(run_dir).as_posix()
    return f".../{Path(value).expanduser().name}"


def shareable(tree, run_dir: Path):
    """A JSON tree (results.json, meta_nlp.json) with every absolute path made shareable."""
    if isinstance(tree, str):
        return shareable_path(tree, run_dir)
    if isinstance(tree, list):
        return [shareable(v, run_dir) for v in tree]
    if isinstance(tree, dict):
        return {k: shareable(v, run_dir) for k, v in tree.items()}
    return tree


def strings_in(tree) -> list[str]:
    if isinstance(tree, str):
        return [tree]
    values = tree.values() if isinstance(tree, dict) else tree if isinstance(tree, list) else []
    return [s for v in values for s in strings_in(v)]


def shareable_command(command: str, run_dir: Path) -> str:
    """The command line without --output-dir, --resume-from-checkpoint and --hub-token, other paths made shareable."""
    args, out = shlex.split(command), []
    while args:
        arg = args.pop(0)
        option, eq, value = arg.partition("=")
        if option in UNPUBLISHED_FLAGS:
            if not eq and args:
                args.pop(0)
            continue
        out.append(f"{option}={shareable_path(value, run_dir)}" if eq and option.startswith("--")
                   else shareable_path(arg, run_dir))
    return shlex.join(out)


def shareable_run(run: Run) -> Run:
    return Run(run.path, shareable(run.results, run.path), shareable(run.meta, run.path))


def write_shareable_copies(run: Run, public: Run, dest: Path) -> None:
    """Replace the upload folder's copies of meta_nlp.json, results.json and report.md by shareable ones (`public`:
    the run's shareable copy)."""
    (dest / META_FILE).write_text(json.dumps(public.meta, indent=2), encoding="utf-8")
    (dest / "results.json").write_text(json.dumps(public.results, indent=2), encoding="utf-8")
    report = dest / "report.md"
    if report.is_file():  # written from the config: the same paths, replaced longest first
        text = report.read_text(encoding="utf-8")
        for path in sorted({s for s in strings_in([run.meta, run.results]) if is_local_path(s)}, key=len, reverse=True):
            text = text.replace(path, shareable_path(path, run.path))
        report.write_text(text, encoding="utf-8")


# --- model card ---------------------------------------------------------------------------

def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else ('es' if word.endswith('s') else 's')}"


def dataset_of(task: str) -> str:
    return DATASET_OF_TASK.get(task, task)


def hub_base_model(model: str) -> str | None:
    """The base model as a Hub id; None for a local folder (the Hub rejects paths in base_model)."""
    if model.startswith((".", "/", "~")) or Path(model).expanduser().exists() or model.count("/") > 1:
        return None
    return model


def is_ranking(run: Run) -> bool:
    """A translation-ranking run: its results carry full retrieval accuracy."""
    return any("retrieval" in r for r in run.results.get("results", []))


def eval_results_of(run: Run) -> list[EvalResult]:
    """Hub eval results per held-out language, for the meta-learned method only (baselines are in the text):
    episode accuracy, and for translation ranking the full retrieval accuracy in both directions."""
    task = run.config["task"]
    ranking = is_ranking(run)
    out = []
    for r in (r for r in run.results.get("results", []) if r["method"] == run.method):
        where = dict(dataset_type=task, dataset_name=f"{dataset_of(task)} ({r['language']})",
                     dataset_config=r["language"], dataset_split="test")
        kind = f"{r['n_way']}-way {r['k_shot']}-shot " + ("translation ranking" if ranking else "classification")
        out.append(EvalResult(task_type="sentence-similarity" if ranking else "text-classification", task_name=kind,
                              metric_type="accuracy", metric_name=f"accuracy (mean over {r['n_episodes']} episodes)",
                              metric_value=round(float(r["accuracy"]), 4), **where))
        if "retrieval" in r:
            out += [EvalResult(task_type="sentence-similarity", task_name="bitext retrieval (all pairs)",
                               metric_type="accuracy", metric_name=f"retrieval accuracy {name}",
                               metric_value=round(float(r["retrieval"][key]), 4), **where)
                    for key, name in (("to_pivot", f"{r['language']} → pivot"), ("from_pivot", f"pivot → {r['language']}"))]
    return out


def card_data(run: Run, repo_id: str) -> ModelCardData:
    languages = list(dict.fromkeys(run.train_languages + run.held_out_languages))
    evals = eval_results_of(run)
    return ModelCardData(base_model=hub_base_model(run.config.get("teacher") or run.config["model"]), language=languages or None,
                         datasets=[dataset_of(task) for task in run.config["task"].split(",")],
                         tags=["meta-learning", run.method, "few-shot", "multilingual"], library_name="meta_nlp",
                         model_name=repo_id.split("/")[-1], eval_results=evals or None)


def results_table(run: Run) -> str:
    ranking = is_ranking(run)
    extra = " retrieval → pivot | pivot → |" if ranking else ""
    rows = ["| held-out language | method | accuracy (± 95% CI) | episodes | task |" + extra,
            "|---|---|---|---|---|" + ("---|---|" if ranking else "")]
    for r in run.results.get("results", []):
        method = f"**{r['method']}** (this model)" if r["method"] == run.method else r["method"]
        cells = f" {r['retrieval']['to_pivot']:.4f} | {r['retrieval']['from_pivot']:.4f} |" if "retrieval" in r else ""
        rows.append(f"| {r['language']} | {method} | {r['accuracy']:.4f} ± {r['ci95']:.4f} | {r['n_episodes']} "
                    f"| {r['n_way']}-way {r['k_shot']}-shot |" + cells)
    return "\n".join(rows)


def reconstructed_command(config: dict) -> str:
    """An equivalent meta_train command: the flags of every field that differs from its default."""
    defaults = MetaConfig().to_dict()
    args = ["accelerate", "launch", "scripts/meta_train.py"]
    for f in fields(MetaConfig):
        value = config.get(f.name, defaults[f.name])
        name = flag(f.name)
        if value == defaults[f.name] or value is None or name in UNPUBLISHED_FLAGS:
            continue
        if f.metadata.get("repeat"):
            args += [a for item in value for a in (name, str(item))]
        elif f.metadata.get("comma"):
            args += [name, ",".join(map(str, value)) or "none"]
        elif isinstance(value, list):
            args += [name, *map(str, value)]
        else:
            args += [name, str(value)]
    return shlex.join(args)


def training_section(run: Run, command: str | None) -> str:
    c, meta = run.config, run.meta
    how = (f"Command:\n\n```bash\n{command}\n```" if command else
           f"Equivalent command (rebuilt from the saved config):\n\n```bash\n{reconstructed_command(c)}\n```")
    lines = [how, "",
             f"- algorithm: `{run.method}`, base model `{c['model']}`, task `{c['task']}`",
             f"- meta-training languages: {', '.join(run.train_languages) or 'n/a'}; "
             f"held out (never seen before evaluation): {', '.join(run.held_out_languages)}",
             f"- seed {c['seed']}; {c['max_steps']} meta-steps (meta-batch {c['meta_batch_size']} per process, "
             f"--train-n-way {c['train_n_way']}, "
             f"{plural(run.results.get('num_processes', 1), 'process')}), {plural(c['inner_steps'], 'inner step')}, "
             f"inner lr {c['inner_lr']}, meta lr {c['meta_lr']}",
             f"- selected checkpoint: step {meta.get('step', '?')}, meta-validation accuracy "
             f"{float(meta.get('val_accuracy', float('nan'))):.4f}"]
    if "test_time" in meta:
        tuned = meta["test_time"]
        lines.append(f"- test-time adaptation (chosen on meta-validation): {plural(tuned['steps'], 'step')}, "
                     f"lr × {tuned['lr_factor']:g}; predictions by {head_description(c)}")
    if "wall_time_s" in run.results:
        precision = run.results.get("mixed_precision")  # what --mixed-precision auto became (recorded since auto)
        lines.append(f"- wall time: {run.results['wall_time_s']} s" + (f", precision {precision}" if precision else ""))
    versions = run.results.get("versions") or {}
    if versions:
        lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    lines.append("\nThe full config is in `meta_nlp.json` and `results.json`.")
    return "\n".join(lines)


def ranking_usage_section(repo_id: str) -> str:
    return f"""The encoder is a plain `transformers` model; sentence embeddings are mean-pooled and L2-normalised:

```python
import torch
from transformers import AutoModel, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{repo_id}")
model = AutoModel.from_pretrained("{repo_id}")

def embed(texts):
    batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1)
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

scores = embed(["Il pleut aujourd'hui."]) @ embed(["It is raining today.", "I like cats."]).T  # pick the max
```

To adapt it to a new language from a few translation pairs as in the evaluation, meta-train with
`meta_nlp` (`scripts/meta_train.py --task tatoeba ...`) and evaluate with `scripts/evaluate.py`."""


def usage_section(repo_id: str, steps: int) -> str:
    return f"""With the `meta_nlp` package installed (`pip install -e .` in a clone of its repository):

```python
from meta_nlp import MetaLearner

learner = MetaLearner.from_pretrained("{repo_id}")
texts = ["I love this song", "what a great album", "the match went to extra time", "he scored twice"]
labels = ["music", "music", "sports", "sports"]
clf = learner.adapt(texts, labels)          # a few examples per label, any language
clf.predict(["who won the game?", "play some jazz"])   # -> label strings
```

`adapt` runs the method's own test-time rule ({plural(steps, 'gradient step')} on the support set,
with the learning rate chosen on meta-validation) starting from the meta-learned encoder."""


def limitations_section(run: Run) -> str:
    items = []
    if run.config["model"] == DEFAULT_MODEL:
        items.append("The base model all-MiniLM-L6-v2 has an English (uncased BERT) vocabulary: Chinese, Japanese "
                     "and Korean (CJK/Hangul) and other non-Latin scripts tokenise poorly (single characters or "
                     "`[UNK]`), so accuracy on those languages is limited by the tokenizer, not only by the method.")
    corpus = "chatterbot-corpus: 1 to 21 topics per language, typically tens of utterances per topic" \
        if run.config["task"] == "chatterbot_topics" else f"task {run.config['task']}"
    items += [f"Results are few-shot episodes sampled from a small corpus ({corpus}); the 95% CI is over "
              "episodes drawn from that one pool and does not cover other domains or label sets.",
              f"The checkpoint and the test-time learning rate and steps were chosen on episodes of "
              f"{selected_on(run.config)}, not the held-out ones.",
              "This is a research artifact: validate on your own labelled examples before relying on it."]
    return "\n".join(f"- {item}" for item in items)


def distillation_text(run: Run) -> str:
    """A distilled student's teacher, method, size, speed and retention (the run report's table), or nothing."""
    rows = run.results.get("distillation")
    if not rows:
        return ""
    c = run.config
    student = f"--student {c['student']}" if c.get("student") else f"{c['student_layers']} of the teacher's layers"
    return "\n".join([*distillation_section(rows, c)[1:], "",
                      f"This model is the student `{run.method}` ({student}), taught by `{c['teacher']}`."]) + "\n"


def edits_text(run: Run, repo_id: str) -> str:
    """An edited classifier's edits (scripts/edit.py), in the order applied, and how to call it; or nothing."""
    edits = run.meta.get("edits")
    if not edits:
        return ""
    lines = ["## Edits applied", "",
             f"This classifier over {', '.join(f'`{label}`' for label in run.meta.get('labels', []))} was edited "
             f"from `{run.meta.get('edited_from', '?')}` with `scripts/edit.py`, one edit after another:", "",
             "| # | text | label | editor | steps | held after its edit |", "|---|---|---|---|---|---|"]
    for i, e in enumerate(edits, 1):
        text = e["text"].replace("|", "\\|")
        lines.append(f"| {i} | {text} | {e['label']} | {e['method']} | {e.get('steps') or ''} | "
                     f"{'yes' if e['holds'] else 'no'} |")
    lines += ["", "```python", "from meta_nlp import Classifier", "",
              f'print(Classifier.from_pretrained("{repo_id}").predict([{json.dumps(edits[0]["text"], ensure_ascii=False)}]))',
              "```", ""]
    return "\n".join(lines)


def card_text(run: Run, repo_id: str, command: str | None) -> str:
    c = run.config
    first = next(iter(run.results.get("results", [])), {})
    chance = f" (chance: {1 / first['n_way']:.2f})" if first.get("n_way") else ""
    has_plot = (run.path / "accuracy_by_step.png").is_file()
    plot = "\n![accuracy vs adaptation steps](accuracy_by_step.png)\n" if has_plot else ""
    steps = run.meta.get("test_time", {}).get("steps", c["inner_steps"])
    purpose = ("a bi-encoder for translation ranking: it embeds sentences of both languages so that a sentence's "
               "translation is its nearest neighbour, and adapts to a new language from a few translation pairs. "
               "Episode accuracy: each sentence picks its translation among N candidates; retrieval: among all of "
               "the language's pairs, without adaptation.") if is_ranking(run) else \
        ("for few-shot text classification in languages it was not trained on: give it a few labelled examples "
         "of new classes, in any language, and it adapts in a few gradient steps.")
    return f"""
# {repo_id.split('/')[-1]}

{f"A student of `{c['teacher']}`" if c.get("teacher") else f"`{c['model']}`"} meta-learned with **{run.method}** by `meta_nlp` on the task
`{c['task']}`, {purpose}

## Results

Every method adapts on the same seeded episodes of the held-out language(s){chance}; ± is the 95%
confidence interval over episodes. `finetune` adapts the base model directly; `multitask` first trains
it on the pooled training languages.

{results_table(run)}
{plot}{distillation_text(run)}{edits_text(run, repo_id)}
## How it was trained

{training_section(run, command)}

## How to use

{ranking_usage_section(repo_id) if is_ranking(run) else usage_section(repo_id, steps)}

## Limitations

{limitations_section(run)}
"""


def model_card(public: Run, repo_id: str | None = None, command: str | None = None) -> ModelCard:
    """The model card of a finished run (its shareable copy): Hub metadata (base model, languages, eval results)
    + text."""
    repo_id = repo_id or PLACEHOLDER_REPO_ID
    command = shareable_command(command, public.path) if command else None
    data = card_data(public, repo_id)
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{card_text(public, repo_id, command)}")


# --- the upload folder --------------------------------------------------------------------

def looks_like_upload_folder(path: Path) -> bool:
    return (path / META_FILE).is_file() and (path / "README.md").is_file()


def empty_dest(dest: Path, run_dir: Path) -> Path:
    """`dest`, empty. Only a previous upload folder is cleared: never the run itself or an unrelated folder."""
    dest, run_dir = dest.resolve(), run_dir.resolve()
    if dest in (run_dir, *run_dir.parents) or dest.is_relative_to(run_dir / "best"):
        raise MetaNLPError(f"upload folder {dest} would overwrite the run itself; choose another folder")
    if dest.exists() and any(dest.iterdir()):
        if not looks_like_upload_folder(dest):
            raise MetaNLPError(f"{dest} exists and is not an upload folder; choose an empty or new folder")
        shutil.rmtree(dest)  # a stale upload folder: rebuild from scratch so no old file survives
    dest.mkdir(parents=True, exist_ok=True)
    return dest


def build_upload_folder(run_dir: Path, dest: Path | None = None, command: str | None = None,
                        repo_id: str | None = None) -> Path:
    """Write exactly what would be uploaded (default RUN_DIR/hub_upload/) and return its path."""
    run_dir = Path(run_dir)
    run = read_run(run_dir)  # reads and checks the run before anything is written
    public = shareable_run(run)
    card = model_card(public, repo_id, command)
    dest = empty_dest(Path(dest) if dest else run_dir / UPLOAD_DIR_NAME, run_dir)
    shutil.copytree(best_dir_of(run_dir), dest, dirs_exist_ok=True)
    for name in RUN_FILES:
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, dest / name)
    write_shareable_copies(run, public, dest)
    card.save(dest / "README.md")
    return dest


# --- pushing ------------------------------------------------------------------------------

def resolve_token(token: str | None) -> str:
    """--hub-token, else HF_TOKEN / HUGGING_FACE_HUB_TOKEN, else the token saved by `hf auth login`."""
    found = (token or os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
             or huggingface_hub.get_token())
    if not found:
        raise MetaNLPError("no Hugging Face token: pass --hub-token, set HF_TOKEN, or run `hf auth login` "
                           "(a token with write access)")
    return found


def check_repo_id(repo_id: str) -> str:
    from huggingface_hub.utils import validate_repo_id
    try:
        validate_repo_id(repo_id)
    except ValueError as e:  # HFValidationError is a ValueError
        raise MetaNLPError(f"invalid --hub-model-id {repo_id!r}: {str(e).splitlines()[0]}") from None
    if repo_id.count("/") != 1:
        raise MetaNLPError(f"--hub-model-id must be USER/NAME or ORG/NAME, got {repo_id!r}")
    return repo_id


def check_online() -> None:
    # Fail at once instead of letting the client retry or hang on a machine without network.
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in TRUTHY:
        raise MetaNLPError("HF_HUB_OFFLINE=1: cannot push to the Hub; unset HF_HUB_OFFLINE, "
                           "or use --hub-dry-run to only write the upload folder")


def commit_message(run: Run) -> str:
    return (f"meta_nlp: {run.method} on {run.config['task']}, held out {', '.join(run.held_out_languages)} "
            f"(run {run.path.resolve().name})")


def push_run(run_dir: Path, hub_model_id: str, token: str | None = None, private: bool = False,
             revision: str | None = None, dry_run: bool = False, dry_run_dir: Path | None = None,
             command: str | None = None, api=None) -> str:
    """Upload a run's learner, results and model card; return the repo URL (or the folder, for a dry run).

    Call on the main process only. `api` replaces `HfApi(token=...)` (tests pass a mock).
    """
    run_dir = Path(run_dir)
    hub_model_id = check_repo_id(hub_model_id)
    if dry_run:
        return str(build_upload_folder(run_dir, dry_run_dir, command, hub_model_id))
    check_online()
    run = read_run(run_dir)  # a bad run dir fails before any Hub call
    api = api or huggingface_hub.HfApi(token=resolve_token(token))
    # A temporary folder: a real push leaves no second copy of the weights in the run dir.
    with tempfile.TemporaryDirectory(prefix="meta_nlp_hub_") as tmp:
        folder = build_upload_folder(run_dir, Path(tmp) / UPLOAD_DIR_NAME, command, hub_model_id)
        try:
            url = api.create_repo(hub_model_id, private=private, exist_ok=True, repo_type="model")
            if revision:
                api.create_branch(hub_model_id, branch=revision, exist_ok=True)
            api.upload_folder(repo_id=hub_model_id, folder_path=str(folder), revision=revision,
                              commit_message=commit_message(run), repo_type="model")
        except MetaNLPError:
            raise
        except Exception as e:  # auth, permissions, network (whatever HTTP client the hub uses): one line
            raise MetaNLPError(f"push to {hub_model_id} failed: {type(e).__name__}: "
                               f"{(str(e).splitlines() or [''])[0]}") from None
    return f"{url}/tree/{revision}" if revision else str(url)
