"""Meta-gradients on a tiny random BERT (float64, no dropout): each test can fail."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from meta_nlp.algorithms import build_algorithm
from meta_nlp.algorithms.inner import constant_lr, inner_loop, query_logits, to_batch
from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import Episode

WORDS = ["apple pie", "football match", "stock market", "rain today", "old castle", "jazz song"]


def tiny_episode(n_way=3, k_shot=2, n_query=2) -> Episode:
    support, query, s_lab, q_lab = [], [], [], []
    for label in range(n_way):
        for i in range(k_shot):
            support.append(f"{WORDS[label]} number {i}")
            s_lab.append(label)
        for i in range(n_query):
            query.append(f"the {WORDS[label]} again {i}")
            q_lab.append(label)
    return Episode(support, s_lab, query, q_lab, [f"c{i}" for i in range(n_way)], "xx")


def cfg_for(algorithm: str, **kw) -> MetaConfig:
    return MetaConfig(algorithm=algorithm, inner_steps=2, inner_lr=0.3, inner_layers=-1, **kw)


def tiny_ranking_episode(n_way=3, k_shot=2, n_query=2) -> Episode:
    """Groups of n_way sentences, each to be matched with its 'translation' among the group's candidates."""
    texts = [f"{WORDS[i % len(WORDS)]} number {i}" for i in range(n_way * (k_shot + n_query))]
    targets = [f"the {t} translated" for t in texts]
    labels = []
    for g in range(0, len(texts), n_way):  # rotate each group's candidates so label != position
        block = targets[g: g + n_way]
        targets[g: g + n_way] = block[1:] + block[:1]
        labels += [(i - 1) % n_way for i in range(n_way)]
    s = n_way * k_shot
    return Episode(texts[:s], labels[:s], texts[s:], labels[s:], [f"c{i}" for i in range(n_way)], "xx",
                   support_targets=targets[:s], query_targets=targets[s:])


@pytest.fixture()
def batch(tokenizer):
    b = to_batch(tiny_episode(), tokenizer, 16, torch.device("cpu"))
    return b


@pytest.fixture()
def ranking_batch(tokenizer):
    return to_batch(tiny_ranking_episode(), tokenizer, 16, torch.device("cpu"))


def meta_grad(model, algorithm, batch) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    algorithm.setup(model)
    algorithm.accumulate_meta_gradient(model, batch, step=10, weight=1.0)
    return {n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for n, p in model.named_parameters()}


def query_loss_after_adaptation(model, cfg, batch) -> torch.Tensor:
    names = model.adaptable_names(cfg.inner_layers)
    for state in inner_loop(model, batch, names, cfg.inner_steps, constant_lr(cfg.inner_lr), create_graph=False,
                            head_init=cfg.head_init):
        pass
    return F.cross_entropy(query_logits(model, batch, state), batch.query_labels)


@pytest.mark.parametrize("inner_layers,kind", [(-1, "classification"), (1, "classification"), (1, "ranking")])
def test_maml_meta_gradient_matches_finite_differences(tiny_model, batch, ranking_batch, inner_layers, kind):
    """inner_layers=1: the lower layer runs once, cached across steps. ranking: the bi-encoder's
    contrastive inner loop, with both sides of every pair run by the fast weights."""
    cfg = replace(cfg_for("maml"), inner_layers=inner_layers)
    batch = ranking_batch if kind == "ranking" else batch
    grads = meta_grad(tiny_model, build_algorithm(cfg), batch)
    names = ["encoder.encoder.layer.1.output.dense.weight", "encoder.encoder.layer.0.attention.self.query.weight",
             "encoder.embeddings.word_embeddings.weight"]
    params = dict(tiny_model.named_parameters())
    gen = torch.Generator().manual_seed(0)
    direction = {n: torch.randn(params[n].shape, generator=gen, dtype=params[n].dtype) for n in names}
    analytic = sum((grads[n] * direction[n]).sum() for n in names)
    eps = 1e-5
    losses = []
    with torch.no_grad():
        for sign in (1, -1):
            for n in names:
                params[n].add_(sign * eps * direction[n])
            with torch.enable_grad():
                losses.append(query_loss_after_adaptation(tiny_model, cfg, batch).item())
            for n in names:
                params[n].sub_(sign * eps * direction[n])
    numeric = (losses[0] - losses[1]) / (2 * eps)
    assert abs(analytic.item()) > 1e-6
    assert analytic.item() == pytest.approx(numeric, rel=1e-4, abs=1e-8)


def test_fomaml_is_maml_without_the_second_order_term(tiny_model, batch):
    maml = meta_grad(tiny_model, build_algorithm(cfg_for("maml")), batch)
    fomaml = meta_grad(tiny_model, build_algorithm(cfg_for("fomaml")), batch)
    name = "encoder.encoder.layer.1.output.dense.weight"
    fast_name = name.removeprefix("encoder.")  # fast weights are named as inside the encoder
    assert not torch.allclose(maml[name], fomaml[name], rtol=1e-3, atol=1e-9)
    # FOMAML = dL_query/d(adapted weights), applied to φ: check against a direct computation.
    cfg = cfg_for("fomaml")
    names = tiny_model.adaptable_names(-1)
    for state in inner_loop(tiny_model, batch, names, cfg.inner_steps, constant_lr(cfg.inner_lr), create_graph=False,
                            head_init=cfg.head_init, track_meta_grad=False):
        pass
    loss = F.cross_entropy(query_logits(tiny_model, batch, state), batch.query_labels)
    direct = torch.autograd.grad(loss, [state.fast[fast_name]])[0]
    # φ also gets gradient through the proto-initialised head; compare with a zero-initialised head instead.
    zero = meta_grad(tiny_model, build_algorithm(cfg_for("fomaml", head_init="zero")), batch)
    for st in inner_loop(tiny_model, batch, names, cfg.inner_steps, constant_lr(cfg.inner_lr), create_graph=False,
                         head_init="zero", track_meta_grad=False):
        pass
    direct_zero = torch.autograd.grad(F.cross_entropy(query_logits(tiny_model, batch, st), batch.query_labels),
                                      [st.fast[fast_name]])[0]
    assert torch.allclose(zero[name], direct_zero, rtol=1e-6, atol=1e-10)
    assert direct.abs().sum() > 0


def test_reptile_moves_phi_towards_the_adapted_weights(tiny_model, batch):
    cfg = cfg_for("reptile")
    names = tiny_model.adaptable_names(-1)
    from meta_nlp.algorithms.inner import whole_task
    for state in inner_loop(tiny_model, whole_task(batch), names, cfg.inner_steps, constant_lr(cfg.inner_lr),
                            create_graph=False, head_init=cfg.head_init, track_meta_grad=False):
        pass
    target = {n: state.fast[n].detach() for n in names}
    grads = {n.removeprefix("encoder."): g for n, g in meta_grad(tiny_model, build_algorithm(cfg), batch).items()}
    params = tiny_model.encoder_params()
    for n in names:  # the Reptile meta-gradient is exactly φ - φ̃
        assert torch.allclose(grads[n], params[n].detach() - target[n], atol=1e-10)
    before = sum(((params[n] - target[n]) ** 2).sum() for n in names)
    with torch.no_grad():
        for n in names:
            params[n] -= 0.5 * grads[n]
    after = sum(((params[n] - target[n]) ** 2).sum() for n in names)
    assert after < before


def test_anil_inner_loop_leaves_the_encoder_untouched(tiny_model, batch):
    algo = build_algorithm(cfg_for("anil"))
    assert algo.adapted_names(tiny_model) == []
    snapshot = {n: p.detach().clone() for n, p in tiny_model.encoder.named_parameters()}
    states = list(inner_loop(tiny_model, batch, [], 3, constant_lr(0.5), create_graph=True, head_init="proto"))
    assert all(s.fast == {} for s in states)
    assert not torch.equal(states[0].head["head.weight"], states[-1].head["head.weight"])
    assert all(torch.equal(snapshot[n], p) for n, p in tiny_model.encoder.named_parameters())
    grads = meta_grad(tiny_model, algo, batch)  # the outer loop still trains the encoder
    assert grads["encoder.encoder.layer.1.output.dense.weight"].abs().sum() > 0


@pytest.mark.parametrize("algorithm", ["maml", "fomaml"])
def test_func_and_higher_backends_agree(tiny_model, batch, algorithm):
    cfg = cfg_for(algorithm, head_init="zero")
    func = meta_grad(tiny_model, build_algorithm(cfg), batch)
    ref = meta_grad(tiny_model, build_algorithm(replace(cfg, backend="higher")), batch)
    for name, g in func.items():
        if name.startswith("encoder."):
            assert torch.allclose(g, ref[name], rtol=1e-6, atol=1e-10), name
    assert func["encoder.encoder.layer.0.attention.self.key.weight"].abs().sum() > 0


def test_metasgd_learns_its_inner_rates(tiny_model, batch):
    for granularity in ("layer_step", "parameter"):
        model = tiny_model
        model.inner_lrs.clear()
        algo = build_algorithm(cfg_for("metasgd", lr_granularity=granularity))
        grads = meta_grad(model, algo, batch)
        lr_grads = [v for k, v in grads.items() if k.startswith("inner_lrs.")]
        assert lr_grads and all(g.abs().sum() > 0 for g in lr_grads)
        if granularity == "layer_step":
            assert model.inner_lrs["layer__1"].shape == (2,)


def test_multi_step_loss_and_order_annealing(tiny_model, batch):
    from meta_nlp.algorithms.maml import multi_step_weights
    w0 = multi_step_weights(4, 0, 10, "cpu")
    assert torch.allclose(w0, torch.full((4,), 0.25)) and multi_step_weights(4, 20, 10, "cpu")[-1] == 1
    algo = build_algorithm(cfg_for("maml", first_order_steps=5))
    assert not algo.is_second_order(4) and algo.is_second_order(5)


def test_protonet_gradient_and_learned_temperature(tiny_model, batch):
    grads = meta_grad(tiny_model, build_algorithm(cfg_for("protonet")), batch)
    assert grads["log_scale"].abs() > 0
    assert grads["encoder.encoder.layer.1.output.dense.weight"].abs().sum() > 0


@pytest.mark.parametrize("algorithm", ["fomaml", "maml", "anil", "reptile", "metasgd", "protonet", "r2d2", "mldg"])
def test_meta_training_reads_the_label_names_only_when_asked(tiny_model, tokenizer, algorithm):
    """--label-name-weight alone is a test-time head: the word embedding of a name's token ('c' of 'c0', 'c1', 'c2';
    in no text of the episode) gets no meta-gradient. --meta-train-label-names adds the names to meta-training's
    logits, so the meta-gradient reaches that token (Reptile's meta-gradient never reaches the word embeddings,
    which its inner loop does not adapt: the names change the rest of it)."""
    batch = to_batch(tiny_episode(), tokenizer, 16, torch.device("cpu"))
    row = tokenizer.convert_tokens_to_ids("c")
    assert batch.label_names is not None and row in batch.label_names["input_ids"].tolist()[0]
    task = [batch, batch] if algorithm == "mldg" else batch
    test_time_only = meta_grad(tiny_model, build_algorithm(cfg_for(algorithm, label_name_weight=1.0)), task)
    assert test_time_only["encoder.embeddings.word_embeddings.weight"][row].abs().sum() == 0
    meta_trained = meta_grad(tiny_model, build_algorithm(cfg_for(algorithm, label_name_weight=1.0,
                                                                 meta_train_label_names=True)), task)
    if algorithm == "reptile":
        name = "encoder.encoder.layer.1.output.dense.weight"
        assert not torch.allclose(meta_trained[name], test_time_only[name])
    else:
        assert meta_trained["encoder.embeddings.word_embeddings.weight"][row].abs().sum() > 0


def test_cached_lower_layers_give_the_same_embeddings(tiny_model, batch):
    from meta_nlp.models.encoder import SetEncoder
    names = tiny_model.adaptable_names(1)
    assert tiny_model.first_adapted_layer(names) == 1
    fast = {n: p.detach() + 0.01 * torch.randn_like(p) for n, p in tiny_model.encoder_params().items() if n in names}
    cached = SetEncoder(tiny_model, batch.query, names)
    assert torch.allclose(cached(fast), tiny_model.embed(batch.query, fast), atol=1e-12)
    assert cached.lower is not None and torch.allclose(cached(fast), tiny_model.embed(batch.query, fast), atol=1e-12)
    assert tiny_model.first_adapted_layer(tiny_model.adaptable_names(-1)) is None  # nothing to cache


@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "anil", "metasgd", "reptile", "protonet", "r2d2", "mldg"])
def test_every_algorithm_learns_translation_ranking(tiny_model, ranking_batch, algorithm):
    """Each learner turns a ranking episode into a finite, non-zero meta-gradient of the encoder
    (MLDG: a meta-train and a pseudo-target episode)."""
    task = [ranking_batch, ranking_batch] if algorithm == "mldg" else ranking_batch
    grads = meta_grad(tiny_model, build_algorithm(cfg_for(algorithm)), task)
    encoder = [g for n, g in grads.items() if n.startswith("encoder.")]
    assert all(torch.isfinite(g).all() for g in encoder)
    assert sum(g.abs().sum() for g in encoder) > 0


def test_protonet_scores_every_group_of_a_ranking_episode(tiny_model, tokenizer):
    """ProtoNet adapts nothing on a ranking episode, so its loss is the mean over all groups, support's and query's
    (it once dropped the support groups: half the pairs drawn)."""
    ep = tiny_ranking_episode()

    def loss(support, query) -> float:
        (texts, labels, targets), (q_texts, q_labels, q_targets) = support, query
        episode = Episode(texts, labels, q_texts, q_labels, ep.label_names, "xx", support_targets=targets,
                          query_targets=q_targets)
        algorithm = build_algorithm(cfg_for("protonet"))
        algorithm.setup(tiny_model)
        return algorithm.accumulate_meta_gradient(tiny_model, to_batch(episode, tokenizer, 16, torch.device("cpu")),
                                                  step=10, weight=1.0)["loss"]
    support = (ep.support_texts, ep.support_labels, ep.support_targets)
    query = (ep.query_texts, ep.query_labels, ep.query_targets)
    assert loss(support, query) == pytest.approx(loss(query, support), rel=1e-9)
    assert loss(support, query) == pytest.approx((loss(support, support) + loss(query, query)) / 2, rel=1e-9)
    assert loss(support, support) != pytest.approx(loss(query, query), rel=1e-3)  # so the halves differ


def test_ranking_inner_loop_adapts_the_projection_head(tiny_model, ranking_batch):
    """ANIL on a ranking episode adapts only the per-episode map, which starts as the identity, and the
    support loss falls."""
    from meta_nlp.algorithms.inner import adapt_and_score
    states = list(inner_loop(tiny_model, ranking_batch, [], 3, constant_lr(0.5), create_graph=False,
                             head_init="proto", track_meta_grad=False))
    d = tiny_model.encoder.config.hidden_size
    assert torch.equal(states[0].head["head.weight"].detach(), torch.eye(d, dtype=torch.float64))
    assert states[-1].support_loss < states[0].support_loss
    assert not torch.equal(states[-1].head["head.weight"], states[0].head["head.weight"])
    assert len(adapt_and_score(tiny_model, ranking_batch, [], 2, constant_lr(0.5), "proto")) == 3
    # the logistic readout has no classes to regress on here: the ranking map predicts under either head
    from meta_nlp.algorithms.inner import adapt_and_predict
    assert adapt_and_predict(tiny_model, ranking_batch, [], 2, constant_lr(0.5), "proto", readout="logistic") == \
        adapt_and_predict(tiny_model, ranking_batch, [], 2, constant_lr(0.5), "proto", readout="sgd")


@pytest.mark.parametrize("kind", ["classification", "ranking"])
def test_mlti_mixes_two_tasks_class_by_class(tiny_model, tokenizer, kind):
    """A task mixed with itself is the task (same meta-gradient); mixed with another at λ=0.5 its inputs are
    the average of a's and the label-aligned b's token embeddings, and the meta-gradient reaches the embeddings."""
    from meta_nlp.augmentation.interpolation import aligned, mix_batches
    make = tiny_ranking_episode if kind == "ranking" else tiny_episode
    a = to_batch(make(), tokenizer, 16, torch.device("cpu"))
    b_ep = make()
    perm = [1, 0, 2]  # b's examples in another order: alignment must put label c with label c
    b_ep.support_texts = [f"other {t}" for t in b_ep.support_texts]
    b_ep.support_labels = [perm[y] for y in b_ep.support_labels] if kind == "classification" else b_ep.support_labels
    b = aligned(a, to_batch(b_ep, tokenizer, 16, torch.device("cpu")))
    assert torch.equal(b.support_labels, a.support_labels) and torch.equal(b.query_labels, a.query_labels)
    algorithm = build_algorithm(cfg_for("maml"))
    plain = meta_grad(tiny_model, algorithm, a)
    same = meta_grad(tiny_model, algorithm, mix_batches(tiny_model, a, aligned(a, a), 0.7))
    for n in plain:
        assert torch.allclose(plain[n], same[n], atol=1e-10), n
    half = mix_batches(tiny_model, a, b, 0.5)
    emb = tiny_model.encoder.get_input_embeddings()
    length = half.support["inputs_embeds"].shape[1]
    from meta_nlp.algorithms.inner import padded
    expected = 0.5 * emb(padded(a.support["input_ids"], length)) + 0.5 * emb(padded(b.support["input_ids"], length))
    assert torch.allclose(half.support["inputs_embeds"], expected)
    mixed = meta_grad(tiny_model, algorithm, half)
    word = "encoder.embeddings.word_embeddings.weight"
    assert mixed[word].abs().sum() > 0 and not torch.allclose(mixed[word], plain[word])
