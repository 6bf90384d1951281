"""Model editing's rows (meta_nlp/data/edits.py): split by translation group, disjoint, held-out language unread."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from conftest import tiny_cfg
from meta_nlp.data.edits import set_apart_edit_rows, translation_groups
from meta_nlp.data.languages import prepare_languages
from meta_nlp.errors import MetaNLPError


def rows_of(corpus) -> set[tuple[str, str]]:
    return {(lang, t) for lang, by_label in corpus.items() for texts in by_label.values() for t in texts}


@pytest.fixture(scope="module")
def chatterbot(tmp_path_factory, tiny_model_dir):
    cfg = tiny_cfg(tmp_path_factory.mktemp("edits"), tiny_model_dir, train_languages=["en", "it", "ko"],
                   held_out_language=["ja"])
    return cfg, prepare_languages(cfg)


def test_translations_share_a_group(chatterbot):
    cfg, split = chatterbot
    groups = translation_groups(cfg, split)
    by_group: dict[str, set[str]] = {}
    for (lang, _), group in groups.items():
        by_group.setdefault(group, set()).add(lang)
    multilingual = [g for g, langs in by_group.items() if len(langs) > 1]
    assert len(multilingual) > 50  # chatterbot's it/ko utterances are aligned with English ones
    assert all(lang in ("en", "it", "ko") for langs in by_group.values() for lang in langs)


def test_editing_rows_are_apart_from_the_classifiers_and_from_each_other(chatterbot):
    cfg, split = chatterbot
    edit = set_apart_edit_rows(cfg, split, 0.3)
    base = rows_of(edit.base.train) | rows_of(edit.base.val)
    train, evaluation = rows_of(edit.editor_train), rows_of(edit.editor_eval)
    assert train and evaluation and not base & train and not base & evaluation and not train & evaluation
    group_sets = [{edit.groups[r] for r in rows} for rows in (base, train, evaluation)]
    assert not group_sets[0] & group_sets[1] and not group_sets[0] & group_sets[2] and not group_sets[1] & group_sets[2]
    assert base | train | evaluation == rows_of(split.train) | rows_of(split.val)  # no row lost
    assert set_apart_edit_rows(cfg, split, 0.3).groups == edit.groups  # seeded: the same split again
    with pytest.raises(MetaNLPError, match="between 0 and 1"):
        set_apart_edit_rows(cfg, split, 1.0)


# ----------------------------------------------------------------------------- editors and their metrics
LABELS = ["food", "sports", "money"]
TEXTS = ["I love pasta", "the match was great", "stocks fell today", "a tasty soup", "he scored a goal",
         "my bank account", "fresh bread", "tennis final", "interest rates"]


@pytest.fixture()
def editable(tmp_path, tiny_model_dir):
    """A tiny random classifier over three labels, saved and loaded as anyone would."""
    import torch
    from meta_nlp.learner import Classifier, save_head, save_learner
    from meta_nlp.models.editors import EditableClassifier
    from meta_nlp.models.encoder import MetaModel, load_encoder
    encoder, tokenizer = load_encoder(tiny_model_dir)
    torch.manual_seed(0)
    save_learner(tmp_path / "clf", MetaModel(encoder), tokenizer, tiny_cfg(tmp_path, tiny_model_dir), method="multitask")
    save_head(tmp_path / "clf", {"weight": 0.05 * torch.randn(3, 32), "bias": torch.zeros(3)}, LABELS)
    return EditableClassifier(Classifier.from_pretrained(str(tmp_path / "clf")), edit_layers=1)


def test_ft_flips_the_edit_and_stops_there(editable):
    from meta_nlp.models.editors import EditSettings, ft_edit
    before = editable.predict(["I love pasta"])[0]
    target = (before + 1) % 3
    steps = ft_edit(editable, "I love pasta", target, EditSettings(lr=0.5, max_steps=50))
    assert 1 <= steps <= 50 and editable.predict(["I love pasta"])[0] == target
    assert ft_edit(editable, "I love pasta", target, EditSettings(lr=0.5, max_steps=50)) == 0  # already holds


def test_ft_kl_pulls_unrelated_rows_towards_the_unedited_predictions(editable):
    import copy
    import torch
    from meta_nlp.models.editors import EditSettings, ft_edit
    unrelated = TEXTS[1:]
    with torch.no_grad():
        probs = torch.softmax(editable.logits(unrelated), -1)
    target = (editable.predict(["I love pasta"])[0] + 1) % 3
    plain, kept = copy.deepcopy(editable), copy.deepcopy(editable)
    # Small steps: the KL term is 0 at the first step (nothing moved yet) and only pulls back from the second on.
    ft_edit(plain, "I love pasta", target, EditSettings(lr=0.002, max_steps=300))
    ft_edit(kept, "I love pasta", target, EditSettings(lr=0.002, max_steps=300, kl_weight=10.0,
                                                       locality_texts=unrelated, locality_probs=probs))
    assert plain.predict(["I love pasta"])[0] == kept.predict(["I love pasta"])[0] == target

    def drift(model):
        with torch.no_grad():
            return torch.nn.functional.kl_div(torch.log_softmax(model.logits(unrelated), -1), probs,
                                              reduction="batchmean").item()
    assert drift(kept) < drift(plain)


def test_memory_answers_within_its_radius_only(editable):
    from meta_nlp.models.editors import memory_edit
    before = editable.predict(TEXTS)
    target = (before[0] + 1) % 3
    memory_edit(editable, TEXTS[0], target)
    editable.radius = 1e-4
    assert editable.predict(TEXTS) == [target, *before[1:]]
    editable.radius = 10.0  # every normalised embedding lies within 2 of every other
    assert editable.predict(TEXTS) == [target] * len(TEXTS)


def test_streams_and_their_metrics(editable):
    from meta_nlp.evaluation.editing import Row, edit_stream, single_edit_scores, stream_scores
    from meta_nlp.models.editors import memory_edit
    rows = [Row(t, i % 3, "en", f"g{i}") for i, t in enumerate(TEXTS)]
    translations = {"g0": [rows[0], Row("amo la pasta", 0, "it", "g0")]}
    predicted = editable.predict(TEXTS)
    mistakes = edit_stream(editable, rows, translations, seed=0)
    assert {e.text for e in mistakes} == {r.text for r, p in zip(rows, predicted) if p != r.gold}
    assert all(e.label == e.gold for e in mistakes) and edit_stream(editable, rows, translations, seed=0) == mistakes
    counterfactual = edit_stream(editable, rows, translations, seed=0, counterfactual=True)
    assert len(counterfactual) == len(rows)
    assert all(e.label not in (e.gold, predicted[TEXTS.index(e.text)]) for e in counterfactual)
    assert next(e for e in counterfactual if e.text == TEXTS[0]).equivalents == ["amo la pasta"]
    editable.radius = 1e-4
    remember = lambda m, e: memory_edit(m, e.text, e.label)  # noqa: E731
    scores = stream_scores(editable, remember, counterfactual, [1, 5], held_back=rows, method="memory",
                           stream_name="counterfactual")
    assert [s["n_edits"] for s in scores] == [1, 5]
    assert all(s["edit_success"] == 1.0 and s["retention"] == 1.0 and s["finite"] for s in scores)
    # the memory answers only its own texts: after T edits, T of the 9 rows changed their prediction
    assert [s["locality"] for s in scores] == pytest.approx([8 / 9, 4 / 9])
    # single edits: each on the unedited classifier (restored after it), so one changed row each time
    editable.memory = []
    one = single_edit_scores(editable, remember, counterfactual, rows, "memory", "counterfactual")
    assert one["n_edits"] == 1 and one["n"] == len(counterfactual) and not editable.memory
    assert one["edit_success"] == 1.0 and one["locality"] == pytest.approx(8 / 9)
    assert one["per_edit_generality"] == [None if not e.equivalents else 0.0 for e in counterfactual]
    assert one["n_general"] == 1 and one["generality"] == 0.0  # the radius is far too small to reach a translation


def test_editable_classifier_reuses_the_lower_layers_exactly(editable):
    """The states below the edited layers are cached once per text: the embeddings match a full forward pass."""
    import torch
    model = editable.classifier.learner.model
    assert editable.start is not None and model.lower_cache is not None
    batch = editable.tokenized(TEXTS)
    encoder = {k: v for k, v in editable.weights.items() if not k.startswith("head.")}
    with torch.no_grad():
        torch.testing.assert_close(editable.embed(TEXTS), model.embed(batch, encoder))
        editable.weights = {k: v + 0.01 for k, v in editable.weights.items()}  # an edit: the top layers change
        edited = {k: v for k, v in editable.weights.items() if not k.startswith("head.")}
        torch.testing.assert_close(editable.embed(TEXTS[::-1]), model.embed(editable.tokenized(TEXTS[::-1]), edited))


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["mend", "enn"])
def test_editing_run_scores_every_editor_on_both_streams(tmp_path, tiny_model_dir, algorithm):
    from meta_nlp.recipes.edit import run_editing
    cfg = tiny_cfg(tmp_path, tiny_model_dir, algorithm=algorithm, baselines=["ft", "ft_kl", "memory"],
                   train_languages=["en", "it", "ko"], held_out_language=["ja"], base_classifier_steps=3, eval_every=3,
                   edit_checkpoints=[1, 5], edit_max_steps=3, editor_steps=2, editor_rank=4)
    out = run_editing(cfg)
    rows = out["editing"]
    assert {(r["method"], r["stream"]) for r in rows} == {(m, s) for m in ("ft", "ft_kl", "memory", algorithm)
                                                         for s in ("mistakes", "counterfactual")}
    assert (tmp_path / "run" / algorithm / "best" / "editor.safetensors").is_file()
    assert out["training"][algorithm]["steps"] == 2
    assert all(r["editor_params"] == 0 for r in rows if r["method"] in ("ft", "ft_kl"))
    assert all(r["editor_params"] > 0 for r in rows if r["method"] in (algorithm, "memory"))
    if algorithm == "enn":  # how much editable training changed the classifier before any edit
        assert set(out["training"]["enn"]["accuracy_before_edits"]) == {"base", "enn"}
        return
    # The classifier is reused by a later run of the same split, and refused by one of another split.
    base = str(tmp_path / "run" / "base" / "multitask")
    again = run_editing(replace(cfg, output_dir=str(tmp_path / "again"), base_classifier=base, editor_steps=1))
    assert again["training"]["base"] == {"reused": base} and not (tmp_path / "again" / "base").exists()
    with pytest.raises(MetaNLPError, match="was not trained on this run's split"):
        run_editing(replace(cfg, output_dir=str(tmp_path / "other"), base_classifier=base, seed=1))
    assert {r["n_edits"] for r in rows} <= {1, 5}
    keys = {"method", "stream", "n_edits", "edit_success", "generality", "locality", "drawdown", "retention", "n"}
    assert all(keys <= set(r) and 0 <= r["locality"] <= 1 for r in rows)
    assert out["memory_radius"] > 0
    # chatterbot's ja utterances are aligned with English ones: some edits have held-out translations to check
    assert any(r["n_general_held_out"] > 0 and r["generality_held_out"] is not None for r in rows)
    one_edit = [r for r in rows if r["n_edits"] == 1]
    assert len(one_edit) == 8 and all(len(r["per_edit_generality"]) == r["n"] for r in one_edit)
    assert all(len(r["generality_vs_ft"]) == 3 for r in one_edit if r["method"] != "ft" and r["n_general"] > 1)
    assert "## Editing" in (tmp_path / "run" / "report.md").read_text()
    assert (tmp_path / "run" / "editing.png").stat().st_size > 1000
    assert len(json.loads((tmp_path / "run" / "results.json").read_text())["editing"]) == len(rows)


def float64_editable(tmp_path, tiny_model_dir):
    """The fixture's tiny classifier in float64, for exact gradient checks."""
    import torch
    from meta_nlp.learner import Classifier, save_head, save_learner
    from meta_nlp.models.editors import EditableClassifier
    from meta_nlp.models.encoder import MetaModel, load_encoder
    encoder, tokenizer = load_encoder(tiny_model_dir)
    torch.manual_seed(0)
    save_learner(tmp_path / "clf", MetaModel(encoder), tokenizer, tiny_cfg(tmp_path, tiny_model_dir), method="multitask")
    save_head(tmp_path / "clf", {"weight": 0.05 * torch.randn(3, 32), "bias": torch.zeros(3)}, LABELS)
    classifier = Classifier.from_pretrained(str(tmp_path / "clf"))
    classifier.learner.model.double()
    classifier.head = {k: v.double() for k, v in classifier.head.items()}
    return EditableClassifier(classifier, edit_layers=1)


def test_an_untrained_mend_editor_takes_one_sgd_step_on_the_edited_matrices(tmp_path, tiny_model_dir):
    """The editor network starts as the identity: its first edit is W − lr·∇W(edit loss), exactly (float64)."""
    import torch
    import torch.nn.functional as F
    from meta_nlp.models.editors import MEND, ffn_weight_names
    model = float64_editable(tmp_path, tiny_model_dir)
    names = ffn_weight_names(model, 1)
    assert names == ["encoder.layer.1.intermediate.dense.weight", "encoder.layer.1.output.dense.weight"]
    editor = MEND(model, edit_layers=1, rank=4, lr=0.5).double()  # 0.5: exact in float32 too
    weights = {k: v.clone().requires_grad_() for k, v in model.weights.items()}
    loss = F.cross_entropy(model.logits(["I love pasta"], weights), torch.tensor([2]))
    grads = dict(zip(names, torch.autograd.grad(loss, [weights[n] for n in names])))
    edited = editor.edited_weights(model, "I love pasta", 2)
    for name in names:
        assert torch.allclose(edited[name], model.weights[name] - 0.5 * grads[name], rtol=1e-9, atol=1e-12)
    assert all(torch.equal(edited[n], model.weights[n]) for n in model.weights if n not in names)


def test_enn_meta_gradient_goes_through_the_edit_step(tmp_path, tiny_model_dir, monkeypatch):
    """ENN's training gradient is second order: for the learned edit lrs and the trained weights it matches central
    finite differences of its loss (the edit loss after one SGD step on the edit, + drift), in float64. The
    locality term is off here: its target, the unedited predictions, moves with the weights but is a constant of
    the loss by design."""
    import torch
    from meta_nlp.config import MetaConfig
    from meta_nlp.evaluation.editing import Row
    from meta_nlp.objectives import editing
    from meta_nlp.objectives.editing import ENNObjective
    monkeypatch.setattr(editing, "C_LOC", 0.0)
    model = float64_editable(tmp_path, tiny_model_dir)
    rows = [Row(t, i % 3, "en", f"g{i % 5}") for i, t in enumerate(TEXTS * 2)]
    translations: dict = {}
    for r in rows:
        translations.setdefault(r.group, []).append(r)
    objective = ENNObjective(MetaConfig(algorithm="enn", edit_layers=1), model, rows, translations, validation_edits=2)
    objective.weights.double()
    task = objective.draw_task(0, 0, 1)
    objective.task_gradients(task, 0, 1.0, lambda loss: loss.backward())
    lrs, weight = objective.weights.lrs, objective.weights.values[0]
    analytic = [lrs.grad[0].item(), weight.grad.reshape(-1)[3].item()]

    def loss_moved(tensor, index, eps):
        with torch.no_grad():
            tensor.view(-1)[index] += eps
        loss = objective.task_gradients(task, 0, 1.0, lambda loss: None)["loss"]
        with torch.no_grad():
            tensor.view(-1)[index] -= eps
        return loss
    numeric = [(loss_moved(t, i, 1e-6) - loss_moved(t, i, -1e-6)) / 2e-6 for t, i in ((lrs, 0), (weight, 3))]
    assert analytic[0] != 0.0 and numeric == pytest.approx(analytic, rel=1e-5, abs=1e-9)


def test_mend_training_resumes_exactly(tmp_path, editable):
    import shutil
    import torch
    from meta_nlp.engine.trainer import EngineSettings, Trainer
    from meta_nlp.evaluation.editing import Row
    from meta_nlp.config import MetaConfig
    from meta_nlp.objectives.editing import MENDObjective
    rows = [Row(t, i % 3, "en", f"g{i % 5}") for i, t in enumerate(TEXTS * 2)]
    translations: dict = {}
    for r in rows:
        translations.setdefault(r.group, []).append(r)
    cfg = MetaConfig(algorithm="mend", edit_layers=1, editor_rank=4, editor_lr=1e-2)

    def trained(resume):
        objective = MENDObjective(cfg, editable, rows, translations, statistics_edits=4, validation_edits=2)
        run = EngineSettings(output_dir=str(tmp_path / "mend"), max_steps=4, tasks_per_process=2, save_every=2,
                             eval_every=2, resume_from_checkpoint=resume)
        Trainer(objective, run).train()
        return {k: v.detach().clone() for k, v in objective.editor.state_dict().items()}
    full = trained(None)
    shutil.rmtree(tmp_path / "mend" / "checkpoints" / "checkpoint_4")
    resumed = trained("latest")
    assert not [k for k in full if not torch.equal(full[k], resumed[k])]
    assert not torch.equal(full["networks.64x32.up.0"], torch.zeros_like(full["networks.64x32.up.0"]))  # it learned


def test_edit_command_saves_an_edited_classifier_that_lists_its_edits(tmp_path, editable):
    import subprocess
    import sys
    from conftest import ROOT
    from meta_nlp.learner import Classifier
    run = str(tmp_path / "clf")  # the fixture's saved classifier
    target = LABELS[(editable.predict(["I love pasta"])[0] + 1) % 3]

    def edit(*args):
        return subprocess.run([sys.executable, str(ROOT / "scripts" / "edit.py"), run, *args], capture_output=True,
                              text=True, timeout=300, cwd=ROOT)
    proc = edit("--text", "I love pasta", "--label", target, "--output-dir", str(tmp_path / "edited"),
                "--edit-lr", "0.5", "--edit-max-steps", "50")
    assert proc.returncode == 0, proc.stderr[-2000:]
    edited = Classifier.from_pretrained(str(tmp_path / "edited"))
    assert edited.predict(["I love pasta"]) == [target]
    assert [e["text"] for e in edited.learner.meta["edits"]] == ["I love pasta"] and edited.learner.meta["edited_from"] == run
    # a run like any other: results.json lists the edits, and the Hub card too
    from meta_nlp.hub import build_upload_folder
    assert json.loads((tmp_path / "edited" / "results.json").read_text())["edits"][0]["label"] == target
    card = (build_upload_folder(tmp_path / "edited", tmp_path / "upload") / "README.md").read_text()
    assert "## Edits applied" in card and f"| 1 | I love pasta | {target} | ft |" in card
    for args, message in ((["--text", "x", "--label", "weather"], "label 'weather' is not one of"),
                          (["--text", " ", "--label", "food"], "needs a text"),
                          (["--text", "x"], "one --label per --text")):
        proc = edit(*args, "--output-dir", str(tmp_path / "bad"))
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-2000:]
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "edit.py"), str(tmp_path / "edited" / "nowhere"),
                           "--text", "x", "--label", "food", "--output-dir", str(tmp_path / "bad")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 2 and proc.stderr.startswith("error:")


@pytest.mark.parametrize("method", ["mend", "enn"])
def test_a_trained_editor_edits_the_classifier_it_was_trained_for_only(tmp_path, editable, method):
    import torch
    from meta_nlp.config import MetaConfig
    from meta_nlp.engine.trainer import EngineSettings, Trainer
    from meta_nlp.evaluation.editing import Row
    from meta_nlp.learner import Classifier, save_head
    from meta_nlp.objectives.editing import ENNObjective, MENDObjective
    from meta_nlp.recipes.edit import apply_edits
    rows = [Row(t, i % 3, "en", f"g{i % 5}") for i, t in enumerate(TEXTS * 2)]
    translations: dict = {}
    for r in rows:
        translations.setdefault(r.group, []).append(r)
    cfg = MetaConfig(algorithm=method, edit_layers=1, editor_rank=4, edit_max_steps=3)
    build = MENDObjective if method == "mend" else ENNObjective
    objective = build(cfg, editable, rows, translations, validation_edits=2)
    Trainer(objective, EngineSettings(output_dir=str(tmp_path / "editing" / method), max_steps=2, tasks_per_process=1,
                                      eval_every=2)).train()
    run = str(tmp_path / "clf")  # the classifier the editor trained for (the fixture's)
    records = apply_edits(run, [("I love pasta", "money"), ("fresh bread", "sports")], tmp_path / "edited", 1, 1e-3,
                          3, editor_path=str(tmp_path / "editing"))
    assert [r["method"] for r in records] == [method] * 2
    edited = Classifier.from_pretrained(str(tmp_path / "edited"))
    assert [e["text"] for e in edited.learner.meta["edits"]] == ["I love pasta", "fresh bread"]
    # the edited classifier descends from it: its editor edits it further
    assert apply_edits(str(tmp_path / "edited"), [("tennis final", "food")], tmp_path / "again", 1, 1e-3, 3,
                       editor_path=str(tmp_path / "editing" / method / "best"))[0]["method"] == method
    # another classifier (another head) is refused in one line
    save_head(tmp_path / "clf", {"weight": 0.05 * torch.randn(3, 32), "bias": torch.zeros(3)}, LABELS)
    with pytest.raises(MetaNLPError, match="trained for another classifier"):
        apply_edits(run, [("I love pasta", "money")], tmp_path / "bad", 1, 1e-3, 3, str(tmp_path / "editing"))
    with pytest.raises(MetaNLPError, match="holds no trained editor"):
        apply_edits(run, [("I love pasta", "money")], tmp_path / "bad", 1, 1e-3, 3, str(tmp_path / "nowhere"))


def test_pooling_editing_seeds_averages_rows_and_pairs_generality_within_seeds(tmp_path):
    from meta_nlp.recipes.edit import pool_editing_seeds

    def row(method, seed, success, general):
        return {"method": method, "stream": "mistakes", "n_edits": 1, "edit_success": success, "generality": None,
                "generality_held_out": None, "locality": 1.0, "drawdown": 0.0, "retention": success, "latency_s": 0.1,
                "n": len(general), "editor_params": 0, "per_edit_generality": general}

    def write(name, seed, rows, task="chatterbot_topics"):
        (tmp_path / name).mkdir()
        config = {"task": task, "held_out_language": ["ja"], "seed": seed}
        (tmp_path / name / "results.json").write_text(json.dumps({"config": config, "editing": rows}))
        return tmp_path / name
    whole = [{**row("ft", s, 0.5, []), "n_edits": n, "n": n} for s, n in ((0, 40), (1, 30))]  # each seed's stream
    runs = [write("s0", 0, [row("mend", 0, 1.0, [1.0, None, 0.5]), row("ft", 0, 0.8, [0.0, None, 0.5]), whole[0]]),
            write("s0_enn", 0, [row("ft", 0, 0.8, [0.0, None, 0.5])]),  # a second run of seed 0: ft counted once
            write("s1", 1, [row("mend", 1, 0.6, [1.0, 1.0]), row("ft", 1, 0.4, [0.0, 0.0]), whole[1]])]
    out = pool_editing_seeds(runs, tmp_path / "pooled")
    mend = next(r for r in out["editing"] if r["method"] == "mend")
    ft = next(r for r in out["editing"] if r["method"] == "ft" and r["n_edits"] == 1)
    (ft_whole,) = [r for r in out["editing"] if r["method"] == "ft" and r["n_edits"] > 1]
    assert ft_whole["n_edits"] == 35 and ft_whole["n_edits_by_seed"] == [40, 30] and ft_whole["seeds"] == [0, 1]
    assert mend["edit_success"] == pytest.approx(0.8) and mend["edit_success_by_seed"] == [1.0, 0.6]
    assert ft["n"] == 5 and ft["seeds"] == [0, 1]
    mean, low, high = mend["generality_vs_ft"]  # pairs (1,0), (0.5,0.5), (1,0), (1,0): every resample within seeds
    assert mean == pytest.approx(0.75) and low == pytest.approx(0.5) and high == pytest.approx(1.0)
    assert "## Editing" in (tmp_path / "pooled" / "report.md").read_text()
    with pytest.raises(MetaNLPError, match="one task and held-out language"):
        pool_editing_seeds([runs[0], write("sib", 2, [], task="sib200")], tmp_path / "bad")
