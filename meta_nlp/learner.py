"""A saved run is a folder anyone can load: `MetaLearner.from_pretrained(dir_or_hub_id)`.

Layout: encoder + tokenizer (save_pretrained), `meta_params.safetensors` (learned logit
scale and inner rates), `meta_nlp.json` (the run's config and how to adapt); a classifier over a fixed label set
(the multitask baseline, a supervised distilled student) adds `head.safetensors` and its labels (`Classifier`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from meta_nlp.config import MetaConfig, config_from_dict, saved_config
from meta_nlp.errors import MetaNLPError

META_FILE = "meta_nlp.json"
PARAMS_FILE = "meta_params.safetensors"


def save_learner(path: Path, model, tokenizer, cfg: MetaConfig, extra: dict | None = None, method: str | None = None) -> None:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.encoder.save_pretrained(path)
    tokenizer.save_pretrained(path)
    save_file({"log_scale": model.log_scale.detach().cpu().reshape(1),
               **{f"inner_lrs.{k}": v.detach().cpu().contiguous() for k, v in model.inner_lrs.items()}},
              str(path / PARAMS_FILE))
    meta = {"method": method or cfg.algorithm, "config": cfg.to_dict(), **(extra or {})}
    (path / META_FILE).write_text(json.dumps(meta, indent=2))


def resolve_learner_dir(name_or_path: str, revision: str | None = None, token: str | None = None) -> Path:
    """A run folder (its best/ checkpoint), a saved learner folder, or a Hub id (downloaded)."""
    p = Path(name_or_path)
    if (p / "best" / META_FILE).is_file():
        return p / "best"
    if (p / META_FILE).is_file():
        return p
    from meta_nlp.engine.trainer import run_of_checkpoint  # here: loading a learner needs no accelerate
    if (run := run_of_checkpoint(p)) is not None:  # optimiser and random states, not a loadable model
        raise MetaNLPError(f"{name_or_path} is a checkpoint to resume training from, not a saved learner: load the run "
                           f"({run}, its selected model in {run / 'best'}), or continue training with --output-dir "
                           f"{run} --resume-from-checkpoint {p}")
    if p.exists() or name_or_path.startswith((".", "/")):
        raise MetaNLPError(f"{name_or_path} holds no saved learner ({META_FILE} not found)")
    try:
        from huggingface_hub import snapshot_download
        return Path(snapshot_download(name_or_path, revision=revision, token=token))
    except Exception as e:  # offline, missing repo, ...: one line for the user
        raise MetaNLPError(f"cannot load {name_or_path!r} from the Hub: {str(e).splitlines()[0]}") from None


@dataclass
class FewShotClassifier:
    """What `MetaLearner.adapt` returns: an adapted encoder + head for one label set."""
    learner: "MetaLearner"
    fast: dict
    head: dict
    label_names: list[str]

    @torch.no_grad()
    def predict(self, texts: list[str]) -> list[str]:
        from meta_nlp.models.encoder import head_logits, tokenize
        m = self.learner.model
        z = m.embed(tokenize(self.learner.tokenizer, texts, self.learner.cfg.max_length, self.learner.device), self.fast)
        return [self.label_names[i] for i in head_logits(z, self.head, m.log_scale.exp()).argmax(-1).tolist()]


class MetaLearner:
    """Load a meta-trained encoder and adapt it to a new few-shot task in any language."""

    def __init__(self, model, tokenizer, cfg: MetaConfig, meta: dict):
        self.model, self.tokenizer, self.cfg, self.meta = model, tokenizer, cfg, meta
        self.model.eval().requires_grad_(False)
        tuned = meta.get("test_time", {})
        self.lr_factor = float(tuned.get("lr_factor", 1.0))
        self.steps = int(tuned.get("steps", cfg.inner_steps))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @classmethod
    def from_pretrained(cls, name_or_path: str, device: str | None = None, revision: str | None = None,
                        token: str | None = None) -> "MetaLearner":
        """From a run folder (its best/), a saved learner folder, or a Hub repo id (branch `revision`)."""
        from meta_nlp.models.encoder import MetaModel, load_encoder
        path = resolve_learner_dir(name_or_path, revision, token)
        meta = json.loads((path / META_FILE).read_text())
        cfg = config_from_dict(saved_config(meta["config"]), source=str(path / META_FILE))
        encoder, tokenizer = load_encoder(str(path))
        model = MetaModel(encoder, cfg.logit_scale)
        tensors = load_file(str(path / PARAMS_FILE))
        model.log_scale.data.copy_(tensors["log_scale"].reshape(()))
        for key, value in tensors.items():
            if key.startswith("inner_lrs."):
                model.inner_lrs[key.split(".", 1)[1]] = torch.nn.Parameter(value)
        return cls(model.to(device or ("cuda" if torch.cuda.is_available() else "cpu")), tokenizer, cfg, meta)

    def save_pretrained(self, path: str | Path) -> None:
        save_learner(Path(path), self.model, self.tokenizer, self.cfg, extra={k: v for k, v in self.meta.items()
                                                                             if k not in ("method", "config")},
                     method=self.meta.get("method"))

    def adapt(self, texts: list[str], labels: list[str], steps: int | None = None) -> FewShotClassifier:
        """Few-shot adaptation with the method's (validation-tuned) test-time rule. The texts to predict are not
        known yet, so a 'transductive' rule's head is its logistic head, fit on these texts alone."""
        from meta_nlp.algorithms.inner import EpisodeBatch, inner_loop, readout_head, tokenized_label_names
        from meta_nlp.models.encoder import tokenize
        if len(texts) != len(labels) or not texts:
            raise MetaNLPError("adapt needs as many labels as texts, and at least one of each")
        names = sorted(set(labels))
        if len(names) < 2:
            raise MetaNLPError("adapt needs at least two different labels")
        ids = torch.tensor([names.index(x) for x in labels], device=self.device)
        batch = EpisodeBatch(tokenize(self.tokenizer, texts, self.cfg.max_length, self.device), ids, {}, ids, len(names), None,
                             label_names=tokenized_label_names(texts, names, self.tokenizer, self.cfg.max_length,
                                                               self.device))
        rule = self.test_time_rule()
        for state in inner_loop(self.model, batch, rule.names, self.steps if steps is None else steps,
                                rule.scaled(self.lr_factor), create_graph=False, head_init=self.cfg.head_init,
                                track_meta_grad=False, label_name_weight=rule.label_name_weight):
            pass
        return FewShotClassifier(self, {k: v.detach() for k, v in state.fast.items()},
                                 {k: v.detach() for k, v in readout_head(state, batch, rule.readout).items()}, names)

    @torch.no_grad()
    def embed(self, texts: list[str], batch_size: int = 64) -> torch.Tensor:
        """Sentence embeddings of `texts` (the model as it is, in eval mode), in batches."""
        from meta_nlp.models.encoder import tokenize
        self.model.eval()
        return torch.cat([self.model.embed(tokenize(self.tokenizer, texts[i:i + batch_size], self.cfg.max_length,
                                                    self.device)) for i in range(0, len(texts), batch_size)])

    def test_time_rule(self):
        from meta_nlp.algorithms.test_time import test_time_rule
        return test_time_rule(self.meta.get("method", self.cfg.algorithm), self.model, self.cfg)


def save_weight_ensemble(learner_dir: Path, share: float, out: Path) -> Path:
    """Save into `out` the learner of `learner_dir` with its encoder weights moved back toward the encoder it started
    from (its config's --model, φ⁰): φ⁰ + share·(φ − φ⁰); its logit scale and inner rates are the learner's. Returns
    `out`. A weight-space ensemble of the trained and the initial weights (WiSE-FT, Wortsman et al. 2022) is more
    robust to distribution shift than the trained weights; here (results.md "thirty-ninth measurements") share 0.5
    gave back half of what 320 meta-steps had cost on a held-out task, and cost a little at the default 40."""
    from meta_nlp.models.encoder import interpolate_weights, load_encoder
    if not 0.0 < share <= 1.0:
        raise MetaNLPError(f"--weight-ensemble must be in (0, 1] (the meta-trained weights' share), not {share}")
    learner = MetaLearner.from_pretrained(str(learner_dir), device="cpu")
    if share < 1.0:  # 1 is the learner itself, to the bit (interpolating would turn its −0.0s into 0.0s)
        interpolate_weights(learner.model.encoder, load_encoder(learner.cfg.model)[0], share)
    learner.meta["weight_ensemble"] = {"share": share, "of": str(learner_dir), "initial": learner.cfg.model}
    learner.save_pretrained(out)
    return Path(out)


HEAD_FILE = "head.safetensors"  # a classifier's head over a fixed label set, beside its saved learner


def save_head(path: Path, head: dict[str, torch.Tensor], labels: list[str]) -> None:
    """Save a classification head (weight [labels, hidden], bias [labels]) and its label names into a saved learner."""
    save_file({k: v.detach().cpu().contiguous() for k, v in head.items()}, str(Path(path) / HEAD_FILE))
    meta_path = Path(path) / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["labels"] = list(labels)
    meta_path.write_text(json.dumps(meta, indent=2))


class Classifier:
    """An encoder and a linear head over a fixed label set: the multitask baseline's model, a supervised distilled
    student. `Classifier.from_pretrained(run_or_folder).predict(texts)` gives label names."""

    def __init__(self, learner: MetaLearner, head: dict[str, torch.Tensor], labels: list[str]):
        self.learner, self.labels = learner, labels
        self.head = {f"head.{k}": v.to(learner.device) for k, v in head.items()}

    @classmethod
    def from_pretrained(cls, name_or_path: str, device: str | None = None) -> "Classifier":
        path = resolve_learner_dir(name_or_path)
        learner = MetaLearner.from_pretrained(str(path), device=device)
        if not (path / HEAD_FILE).is_file() or "labels" not in learner.meta:
            raise MetaNLPError(f"{name_or_path} is a learner without a classification head ({HEAD_FILE}): a few-shot "
                               "learner adapts with MetaLearner.adapt instead")
        return cls(learner, load_file(str(path / HEAD_FILE)), learner.meta["labels"])

    @torch.no_grad()
    def logits(self, texts: list[str]) -> torch.Tensor:
        from meta_nlp.models.encoder import head_logits
        return head_logits(self.learner.embed(texts), self.head, self.learner.model.log_scale.exp())

    def predict(self, texts: list[str]) -> list[str]:
        return [self.labels[i] for i in self.logits(texts).argmax(-1).tolist()]
