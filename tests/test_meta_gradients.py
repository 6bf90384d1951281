"""Meta-gradients checked against VALUES computed independently of the library (issue 14, part 0).

Every algorithm's accumulated gradient is compared, tensor by tensor, with a hand-written plain-PyTorch
unrolled computation (its own pooling, prototype head, SGD steps and losses), and along random
directions with central finite differences of the library's own query loss, all in float64 on a tiny
random BERT. The last test checks that test-time settings are chosen on meta-validation only.
"""
from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from meta_nlp.algorithms import build_algorithm
from meta_nlp.algorithms.inner import to_batch
from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import Episode

WORDS = ["apple pie", "football match", "stock market", "rain today", "old castle", "jazz song"]
PROBE = "encoder.encoder.layer.1.output.dense.weight"  # an adapted encoder weight
EMBED = "encoder.embeddings.word_embeddings.weight"  # never adapted: only the outer path reaches it


def tiny_episode(n_way=3, k_shot=2, n_query=2, language="xx") -> Episode:
    """Texts of different lengths, so that padding is there to be ignored."""
    support, query, s_lab, q_lab = [], [], [], []
    for label in range(n_way):
        for i in range(k_shot):
            support.append(f"{WORDS[label]} number {i}" + " and so on" * ((label + i) % 3))
            s_lab.append(label)
        for i in range(n_query):
            query.append(f"the {WORDS[label]} again {i}" + " once more" * ((label + 2 * i) % 3))
            q_lab.append(label)
    return Episode(support, s_lab, query, q_lab, [f"c{i}" for i in range(n_way)], language)


def cfg_for(algorithm: str, **kw) -> MetaConfig:
    values = dict(algorithm=algorithm, inner_steps=2, inner_lr=0.3, inner_layers=-1)
    values.update(kw)
    return MetaConfig(**values)


@pytest.fixture()
def batch(tokenizer):
    return to_batch(tiny_episode(), tokenizer, 16, torch.device("cpu"))


# ----------------------------------------------------------------------------- helpers


def library_grads(model, algorithm, batch, step=10) -> tuple[dict[str, torch.Tensor], dict]:
    """The algorithm's accumulated meta-gradient (weight 1) of every model parameter, and its metrics."""
    model.zero_grad(set_to_none=True)
    algorithm.setup(model)
    metrics = algorithm.accumulate_meta_gradient(model, batch, step=step, weight=1.0)
    grads = {n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return grads, metrics


def autograd_grads(loss: torch.Tensor, model, retain_graph: bool = False) -> dict[str, torch.Tensor]:
    named = list(model.named_parameters())
    grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True, retain_graph=retain_graph)
    return {n: (torch.zeros_like(p) if g is None else g) for (n, p), g in zip(named, grads)}


def assert_grads_equal(got: dict, want: dict, names=None, rtol=1e-6, atol=1e-10):
    for n in names or want:
        torch.testing.assert_close(got[n], want[n], rtol=rtol, atol=atol, msg=lambda m, n=n: f"{n}: {m}")


def pooled(model, inputs: dict, fast: dict) -> torch.Tensor:
    """Mean over real tokens of the last hidden states, L2-normalised (written here, not the library's)."""
    hidden = functional_call(model.encoder, fast, args=(), kwargs=inputs).last_hidden_state
    mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)


def class_means(z: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    return torch.stack([z[labels == k].mean(0) for k in range(n_way)])


def math_attention():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    return sdpa_kernel(SDPBackend.MATH)


def unrolled_query_losses(model, batch, names, steps, lr, second_order=True, head_init="proto",
                          head_in_first_inner_gradient=False):
    """Plain-PyTorch MAML-family forward: [query loss after 1..steps SGD steps on the support set].

    names: encoder parameters adapted (empty: ANIL, head only). lr(name, t): step size of parameter
    `name` (encoder-relative, or 'head.weight' / 'head.bias') at inner step t. The proto head is
    w_k = 2 c_k, b_k = -|c_k|^2 from the support class means under the initial weights (a function of φ);
    second_order=False treats the inner gradients as constants (first-order MAML).
    head_in_first_inner_gradient: whether the first inner gradient of the encoder weights also runs through
    the proto head's dependence on them (the library's behaviour until this test found it), or holds the head
    fixed, as every later step, test-time adaptation and the `higher` backend do."""
    enc = dict(model.encoder.named_parameters())
    if head_in_first_inner_gradient:
        fast = {n: enc[n] for n in names}
    else:  # aliases of φ: the inner gradient w.r.t. them does not see the head, which is built from φ itself
        fast = {n: enc[n].view_as(enc[n]) for n in names}
    scale = model.log_scale.exp()
    z_s = pooled(model, batch.support, fast)
    if head_init == "proto":
        z_head = z_s if head_in_first_inner_gradient else pooled(model, batch.support, {})
        c = class_means(z_head, batch.support_labels, batch.n_way)
        w, b = 2 * c, -(c * c).sum(-1)
    else:
        w = z_s.new_zeros(batch.n_way, z_s.shape[-1]).requires_grad_()
        b = z_s.new_zeros(batch.n_way).requires_grad_()
    z_q = None
    losses = []
    for t in range(steps):
        if t > 0 and names:
            z_s = pooled(model, batch.support, fast)
        support_loss = F.cross_entropy(scale * (z_s @ w.t() + b), batch.support_labels)
        keys = list(fast)
        grads = torch.autograd.grad(support_loss, [fast[k] for k in keys] + [w, b], create_graph=second_order,
                                    retain_graph=True)
        if not second_order:
            grads = [g.detach() for g in grads]
        fast = {k: fast[k] - lr(k, t) * g for k, g in zip(keys, grads)}
        w = w - lr("head.weight", t) * grads[-2]
        b = b - lr("head.bias", t) * grads[-1]
        if z_q is None or names:
            z_q = pooled(model, batch.query, fast)
        losses.append(F.cross_entropy(scale * (z_q @ w.t() + b), batch.query_labels))
    return losses


def adapted(model) -> list[str]:
    """Encoder-relative names of the transformer-layer weights (what inner_layers=-1 adapts)."""
    return [n for n, _ in model.encoder.named_parameters() if re.search(r"layer\.\d+\.", n)]


def random_direction(model, names, seed=0) -> dict[str, torch.Tensor]:
    params = dict(model.named_parameters())
    gen = torch.Generator().manual_seed(seed)
    return {n: torch.randn(params[n].shape, generator=gen, dtype=params[n].dtype) for n in names}


def central_difference(model, loss_fn, direction: dict, eps=1e-6) -> float:
    """d/dε loss(θ + ε·direction) at 0, by central differences; θ restored exactly afterwards."""
    params = dict(model.named_parameters())
    saved = {n: params[n].detach().clone() for n in direction}
    values = []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            for n, d in direction.items():
                params[n].copy_(saved[n] + sign * eps * d)
        values.append(loss_fn())
    with torch.no_grad():
        for n in direction:
            params[n].copy_(saved[n])
    return (values[0] - values[1]) / (2 * eps)


def directional(grads: dict, direction: dict) -> float:
    return float(sum((grads[n] * d).sum() for n, d in direction.items()))


def assert_matches_finite_differences(model, algorithm, batch, names, step=10, seed=0):
    """The library's meta-gradient along a random direction over `names` equals the central difference of
    the query loss the library itself reports."""
    grads, _ = library_grads(model, algorithm, batch, step)
    direction = random_direction(model, names, seed)
    analytic = directional(grads, direction)
    numeric = central_difference(
        model, lambda: algorithm.accumulate_meta_gradient(model, batch, step=step, weight=1.0)["loss"], direction)
    model.zero_grad(set_to_none=True)
    assert abs(analytic) > 1e-6, names
    assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-9), names


# ----------------------------------------------------------------------------- 1. Meta-SGD


def metasgd_rates(model, granularity):
    """The learned step size of each parameter at inner step t, looked up by hand (not via lr_key)."""
    def lr(name, t):
        if granularity == "layer_step":
            m = re.search(r"layer\.(\d+)\.", name)
            return model.inner_lrs[f"layer__{m.group(1)}" if m else "head"][t]
        return model.inner_lrs[name.replace(".", "__")]
    return lr


@pytest.mark.parametrize("granularity", ["layer_step", "parameter"])
def test_metasgd_meta_gradient_of_rates_and_weights(tiny_model, batch, granularity):
    model = tiny_model
    cfg = cfg_for("metasgd", lr_granularity=granularity)
    algo = build_algorithm(cfg)
    algo.setup(model)
    # Distinct float64 rates per layer/step (or per element): a rate read at the wrong step, layer or
    # element changes the values below. (setup makes float32 rates, too coarse for finite differences.)
    gen = torch.Generator().manual_seed(1)
    for key, rates in list(model.inner_lrs.items()):
        model.inner_lrs[key] = torch.nn.Parameter(
            cfg.inner_lr * (0.5 + torch.rand(rates.shape, generator=gen, dtype=torch.float64)))
    expected_keys = ({"layer__0", "layer__1", "head"} if granularity == "layer_step" else
                     {n.replace(".", "__") for n in adapted(model)} | {"head__weight", "head__bias"})
    assert set(model.inner_lrs) == expected_keys

    grads, metrics = library_grads(model, algo, batch)
    with math_attention():
        losses = unrolled_query_losses(model, batch, adapted(model), cfg.inner_steps, metasgd_rates(model, granularity))
    assert metrics["loss"] == pytest.approx(losses[-1].item(), rel=1e-10)
    want = autograd_grads(losses[-1], model)
    assert_grads_equal(grads, want)  # every encoder weight, log_scale and every learned rate
    rate_names = [n for n in grads if n.startswith("inner_lrs.")]
    assert all(grads[n].abs().sum() > 0 for n in rate_names)

    assert_matches_finite_differences(model, algo, batch, rate_names, seed=2)
    assert_matches_finite_differences(model, algo, batch, [PROBE, EMBED], seed=3)


# ----------------------------------------------------------------------------- 2. ProtoNet


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_protonet_gradient_matches_plain_prototypical_loss(tiny_model, batch, distance):
    model = tiny_model
    algo = build_algorithm(cfg_for("protonet", protonet_distance=distance))
    grads, metrics = library_grads(model, algo, batch)

    out_s = model.encoder(**batch.support).last_hidden_state  # plain forward, no functional_call
    out_q = model.encoder(**batch.query).last_hidden_state

    def mean_pool(h, inputs):
        m = inputs["attention_mask"].unsqueeze(-1).to(h.dtype)
        return F.normalize((h * m).sum(1) / m.sum(1), dim=-1)
    z_s, z_q = mean_pool(out_s, batch.support), mean_pool(out_q, batch.query)
    protos = class_means(z_s, batch.support_labels, batch.n_way)
    scale = model.log_scale.exp()
    if distance == "euclidean":
        logits = -scale * torch.cdist(z_q, protos) ** 2
    else:
        logits = scale * F.cosine_similarity(z_q.unsqueeze(1), protos.unsqueeze(0), dim=-1)
    loss = F.cross_entropy(logits, batch.query_labels)
    assert metrics["loss"] == pytest.approx(loss.item(), rel=1e-10)
    want = autograd_grads(loss, model)
    assert_grads_equal(grads, want)
    assert grads["log_scale"].abs() > 1e-6

    assert_matches_finite_differences(model, algo, batch, ["log_scale"])
    assert_matches_finite_differences(model, algo, batch, [PROBE, EMBED], seed=4)


def test_r2d2_gradient_matches_the_primal_ridge_solution(tiny_model, batch):
    """R2D2's head is the ridge regression of one-hot labels on the support embeddings; here it is solved in the
    primal, W = (zᵀz + λI)⁻¹zᵀY (d×d, not the library's n×n dual), and the query loss differentiated through it."""
    from meta_nlp.models.encoder import LOGISTIC_C, ridge_regression_head
    model = tiny_model
    algo = build_algorithm(cfg_for("r2d2"))
    grads, metrics = library_grads(model, algo, batch)

    z_s, z_q = pooled(model, batch.support, {}), pooled(model, batch.query, {})
    onehot = F.one_hot(batch.support_labels, batch.n_way).to(z_s.dtype)
    eye = torch.eye(z_s.shape[1], dtype=z_s.dtype)
    weights = torch.linalg.solve(z_s.t() @ z_s + eye / LOGISTIC_C, z_s.t() @ onehot)
    torch.testing.assert_close(ridge_regression_head(z_s, batch.support_labels, batch.n_way), weights)
    loss = F.cross_entropy(model.log_scale.exp() * (z_q @ weights), batch.query_labels)
    assert metrics["loss"] == pytest.approx(loss.item(), rel=1e-10)
    assert_grads_equal(grads, autograd_grads(loss, model))
    assert grads["log_scale"].abs() > 1e-6

    assert_matches_finite_differences(model, algo, batch, ["log_scale"])
    assert_matches_finite_differences(model, algo, batch, [PROBE, EMBED], seed=5)


# ----------------------------------------------------------------------------- 3. ANIL


def test_anil_meta_gradient_is_second_order_through_the_head_steps(tiny_model, batch):
    model = tiny_model
    cfg = cfg_for("anil", inner_steps=3)
    algo = build_algorithm(cfg)
    grads, metrics = library_grads(model, algo, batch)
    lr = lambda name, t: cfg.inner_lr  # noqa: E731
    second = unrolled_query_losses(model, batch, [], cfg.inner_steps, lr, second_order=True)[-1]
    assert metrics["loss"] == pytest.approx(second.item(), rel=1e-10)
    assert_grads_equal(grads, autograd_grads(second, model))
    # The second-order term through the head steps matters: first order through the head is different.
    first = autograd_grads(unrolled_query_losses(model, batch, [], cfg.inner_steps, lr, second_order=False)[-1], model)
    assert not torch.allclose(grads[PROBE], first[PROBE], rtol=1e-3, atol=1e-9)
    assert_matches_finite_differences(model, algo, batch, [PROBE, EMBED], seed=5)
    assert_matches_finite_differences(model, algo, batch, ["log_scale"])


# ----------------------------------------------------------------------------- the first inner step, proto head


def first_step_query_loss(model, batch, track_meta_grad: bool) -> float:
    from meta_nlp.algorithms.inner import constant_lr, inner_loop, query_logits
    states = list(inner_loop(model, batch, model.adaptable_names(-1), 1, constant_lr(0.3), create_graph=False,
                             head_init="proto", track_meta_grad=track_meta_grad))
    return F.cross_entropy(query_logits(model, batch, states[-1]), batch.query_labels).item()


def test_test_time_first_step_holds_the_proto_head_fixed(tiny_model, batch):
    """Test-time adaptation: θ₁ = θ₀ − α ∂L_support(θ, head)/∂θ with the head a free variable."""
    model = tiny_model
    fixed = unrolled_query_losses(model, batch, adapted(model), 1, lambda n, t: 0.3,
                                  head_in_first_inner_gradient=False)[-1].item()
    through = unrolled_query_losses(model, batch, adapted(model), 1, lambda n, t: 0.3,
                                    head_in_first_inner_gradient=True)[-1].item()
    assert abs(fixed - through) > 1e-3  # the two readings of the first step differ on this episode
    assert first_step_query_loss(model, batch, track_meta_grad=False) == pytest.approx(fixed, rel=1e-10)
    assert first_step_query_loss(model, batch, track_meta_grad=True) == pytest.approx(fixed, rel=1e-10)


def test_first_inner_step_is_the_same_in_training_and_at_test_time(tiny_model, batch):
    train = first_step_query_loss(tiny_model, batch, track_meta_grad=True)
    test = first_step_query_loss(tiny_model, batch, track_meta_grad=False)
    assert train == pytest.approx(test, rel=1e-10)


# ----------------------------------------------------------------------------- 4. higher vs torch.func, proto head


@pytest.mark.parametrize("algorithm", ["maml", "fomaml"])
def test_higher_and_func_backends_agree_with_the_proto_head(tiny_model, batch, monkeypatch, algorithm):
    """With head_init='proto' (the default) the func backend differentiates through the head's initial
    value (the support prototypes under φ); `higher` starts the head from a detached copy. So
        func meta-gradient = higher meta-gradient + (dL/d head₀)ᵀ · d head₀/dφ
    where dL/d head₀ is read off higher's own graph and d head₀/dφ is written out here."""
    from meta_nlp.algorithms import higher_backend
    model = tiny_model
    cfg = cfg_for(algorithm)
    assert cfg.head_init == "proto"

    nets, head_grads = [], {}
    original_net, original_copy = higher_backend._EncoderWithHead, higher_backend.HigherMAML._copy_first_order_grads

    class RecordingNet(original_net):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            nets.append(self)

    def recording_copy(model_, net, fnet, loss, weight):  # first order: dL/d(final head) = dL/d head₀
        named = [n for n, _ in net.named_parameters()]
        grads = torch.autograd.grad(loss, list(fnet.parameters()), retain_graph=True, allow_unused=True)
        head_grads.update({n: g for n, g in zip(named, grads) if n.startswith("head.")})
        original_copy(model_, net, fnet, loss, weight)
    monkeypatch.setattr(higher_backend, "_EncoderWithHead", RecordingNet)
    monkeypatch.setattr(higher_backend.HigherMAML, "_copy_first_order_grads", staticmethod(recording_copy))

    func, func_metrics = library_grads(model, build_algorithm(cfg), batch)
    ref, ref_metrics = library_grads(model, build_algorithm(replace(cfg, backend="higher")), batch)
    assert len(nets) == 1
    if algorithm == "maml":  # second order: higher's backward reached its initial head
        head_grads = {n: p.grad for n, p in nets[0].head.named_parameters(prefix="head")}
    assert set(head_grads) == {"head.weight", "head.bias"}
    assert func_metrics["loss"] == pytest.approx(ref_metrics["loss"], rel=1e-10)  # same forward

    z = pooled(model, batch.support, {})
    c = class_means(z, batch.support_labels, batch.n_way)
    head_path = torch.autograd.grad([2 * c, -(c * c).sum(-1)], [p for _, p in model.named_parameters()],
                                    grad_outputs=[head_grads["head.weight"], head_grads["head.bias"]],
                                    allow_unused=True)
    head_path = {n: (torch.zeros_like(p) if g is None else g) for (n, p), g in zip(model.named_parameters(), head_path)}
    names = [n for n in func if n.startswith("encoder.")] + ["log_scale"]
    assert_grads_equal(func, {n: ref[n] + head_path[n] for n in names}, names)
    # ... and the head path is not negligible: the two backends differ with the default head.
    assert (func[PROBE] - ref[PROBE]).norm() > 1e-3 * func[PROBE].norm()


@pytest.mark.parametrize("algorithm,backend", [("maml", "func"), ("maml", "higher"), ("fomaml", "higher")])
def test_meta_gradients_accumulate_weighted_across_tasks(tiny_model, batch, algorithm, backend):
    """Two calls with weights 0.25 and 0.75 add up to one call with weight 1 (a meta-batch of tasks)."""
    algo = build_algorithm(cfg_for(algorithm, head_init="zero", backend=backend))
    once, _ = library_grads(tiny_model, algo, batch)
    tiny_model.zero_grad(set_to_none=True)
    for w in (0.25, 0.75):
        algo.accumulate_meta_gradient(tiny_model, batch, step=10, weight=w)
    for n, p in tiny_model.named_parameters():
        if n.startswith("encoder.") and p.grad is not None:
            torch.testing.assert_close(p.grad, once[n], rtol=1e-9, atol=1e-12)
    assert tiny_model.get_parameter(PROBE).grad.abs().sum() > 0


# ----------------------------------------------------------------------------- 5. MAML++


def test_multi_step_weights_anneal_from_uniform_to_last_step():
    from meta_nlp.algorithms.maml import multi_step_weights
    cases = {  # (n_steps, meta_step, anneal_steps) -> weights over inner steps 1..n
        (3, 0, 4): [1 / 3, 1 / 3, 1 / 3],
        (3, 1, 4): [0.25, 0.25, 0.5],
        (3, 2, 4): [1 / 6, 1 / 6, 2 / 3],
        (4, 3, 4): [1 / 16, 1 / 16, 1 / 16, 13 / 16],
        (3, 4, 4): [0.0, 0.0, 1.0],
        (3, 9, 4): [0.0, 0.0, 1.0],
        (3, 5, 0): [0.0, 0.0, 1.0],  # annealing off: the last step only
        (1, 0, 4): [1.0],
    }
    for (n, s, a), want in cases.items():
        got = multi_step_weights(n, s, a, "cpu")
        assert torch.allclose(got.double(), torch.tensor(want, dtype=torch.float64), atol=1e-7), (n, s, a, got)


@pytest.mark.parametrize("meta_step,weights", [(1, [0.25, 0.25, 0.5]), (4, [0.0, 0.0, 1.0])])
def test_multi_step_loss_gradient_is_the_weighted_sum_of_per_step_gradients(tiny_model, batch, meta_step, weights):
    model = tiny_model
    cfg = cfg_for("maml", inner_steps=3, multi_step_loss_steps=4)
    grads, metrics = library_grads(model, build_algorithm(cfg), batch, step=meta_step)
    with math_attention():
        losses = unrolled_query_losses(model, batch, adapted(model), 3, lambda n, t: cfg.inner_lr)
        per_step = [autograd_grads(loss, model, retain_graph=True) for loss in losses]  # each step's gradient alone
    assert metrics["loss"] == pytest.approx(sum(w * l.item() for w, l in zip(weights, losses)), rel=1e-10)
    want = {n: sum(w * g[n] for w, g in zip(weights, per_step)) for n in grads}
    assert_grads_equal(grads, want)


def test_derivative_order_annealing_switches_at_first_order_steps(tiny_model, batch):
    model = tiny_model
    n_first = 3
    cfg = cfg_for("maml", first_order_steps=n_first)
    maml, fomaml = build_algorithm(cfg), build_algorithm(replace(cfg, algorithm="fomaml"))
    lr = lambda n, t: cfg.inner_lr  # noqa: E731
    with math_attention():
        second = autograd_grads(unrolled_query_losses(model, batch, adapted(model), 2, lr, second_order=True)[-1], model)
    first = autograd_grads(unrolled_query_losses(model, batch, adapted(model), 2, lr, second_order=False)[-1], model)
    assert not torch.allclose(first[PROBE], second[PROBE], rtol=1e-3, atol=1e-9)  # the two orders differ here
    fo_grads, _ = library_grads(model, fomaml, batch, step=0)
    assert_grads_equal(fo_grads, first)  # FOMAML itself is the first-order reference
    for step in (0, n_first - 1):
        assert_grads_equal(library_grads(model, maml, batch, step=step)[0], first)
    for step in (n_first, n_first + 5):
        assert_grads_equal(library_grads(model, maml, batch, step=step)[0], second)


# ----------------------------------------------------------------------------- 6. test-time rule chosen on meta-validation


class ListSampler:
    """Stands in for an EpisodeSampler: episode i of one language (i carried in support_language); records
    the indices asked for."""

    def __init__(self, language: str):
        self.language = language
        self.asked: list[int] = []

    def episode(self, index: int) -> Episode:
        self.asked.append(index)
        ep = tiny_episode(n_way=2, k_shot=2, n_query=2, language=self.language)  # 4 query texts
        ep.support_language = f"{self.language}#{index}"
        return ep


BASE_LR = 0.5
# Query accuracy of each episode after 0, 1, 2 test-time steps, by language and lr factor.
SCENARIOS = {
    # Meta-validation prefers (x0.3, 1 step) on the mean over its 3 episodes (its episode 0 alone would
    # prefer x3, 2 steps); the test language would prefer (x3, 2 steps).
    "one step": dict(
        val={0.3: [[.25, .75, .5], [.25, 1, .5], [.25, 1, .5]], 1.0: [[.25, .5, .75]] * 3,
             3.0: [[.25, .25, 1], [.25, .25, .5], [.25, .25, .5]]},
        test={0.3: [[.25, .25, .5]] * 3, 1.0: [[.5, .5, .5]] * 3, 3.0: [[.25, .5, 1]] * 3},
        chosen=(0.3, 1), test_choice=(3.0, 2),
        grid={"0.3": [.25, .9167, .5], "1": [.25, .5, .75], "3": [.25, .25, .6667]}),
    # Meta-validation prefers no adaptation at all (x1, 0 steps); the test language (x0.3, 2 steps).
    "zero steps": dict(
        val={0.3: [[.5, .25, .25]] * 3, 1.0: [[.75, .5, .25]] * 3, 3.0: [[.25, .25, 1], [.25, .25, .25], [.25, .25, .25]]},
        test={0.3: [[.25, .5, 1]] * 3, 1.0: [[.25, .25, .5]] * 3, 3.0: [[.5, .5, .5]] * 3},
        chosen=(1.0, 0), test_choice=(0.3, 2),
        grid={"0.3": [.5, .25, .25], "1": [.75, .5, .25], "3": [.25, .25, .5]}),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_test_time_rule_is_tuned_on_meta_validation_only(tiny_model, tokenizer, monkeypatch, scenario,
                                                         fresh_accelerate_state):
    from accelerate import Accelerator
    from meta_nlp.algorithms import TestTimeRule
    from meta_nlp.algorithms.inner import constant_lr
    from meta_nlp.evaluation import evaluator
    table = SCENARIOS[scenario]
    calls = []  # (language, lr factor, steps) of every adaptation, in order

    def fake_adapt_and_predict(model, batch, names, steps, lr, head_init, readout="sgd", label_name_weight=0.0):
        language, factor = batch.episode.language, round(lr("any", 0) / BASE_LR, 6)
        index = int(batch.episode.support_language.split("#")[1])
        calls.append((language, factor, steps))
        labels = batch.query_labels.tolist()
        preds = []
        for acc in table[language][factor][index][:steps + 1]:
            right = round(acc * len(labels))
            preds.append(labels[:right] + [(y + 1) % batch.n_way for y in labels[right:]])
        return preds
    from meta_nlp.algorithms import base
    monkeypatch.setattr(base, "adapt_and_predict", fake_adapt_and_predict)  # what TestTimeRule.predict runs

    cfg = MetaConfig(val_episodes=3, eval_episodes=2, eval_inner_steps=2, eval_lr_grid=[0.3, 1.0, 3.0], max_length=16)
    rule = TestTimeRule(["encoder.layer.1.output.dense.weight"], constant_lr(BASE_LR))
    accelerator = Accelerator(cpu=True)
    val, test = ListSampler("val"), ListSampler("test")

    # The scenario is honest: tuned on the test language, the choice would differ.
    assert evaluator.tune_test_time(tiny_model, tokenizer, rule, ListSampler("test"), cfg, accelerator, "m")[:2] \
        == table["test_choice"]
    calls.clear()

    [scores] = evaluator.evaluate_method("m", tiny_model, tokenizer, rule, val, {"test": test}, cfg, accelerator)
    factor, steps = table["chosen"]
    assert (scores.lr_factor, scores.steps, scores.language) == (factor, steps, "test")
    np.testing.assert_allclose(scores.by_episode_step, table["test"][factor][:2])  # eval_episodes=2
    assert scores.extra["val_grid"] == table["grid"]
    summary = scores.summary(cfg)
    assert summary["accuracy"] == pytest.approx(np.mean([row[steps] for row in table["test"][factor][:2]]))
    assert summary["adapt_steps"] == steps and summary["lr_factor"] == factor
    # The test language is adapted only with the chosen factor, once per episode, after all tuning.
    test_calls = [c for c in calls if c[0] == "test"]
    assert test_calls == [("test", factor, 2)] * 2
    assert calls[:9] == [("val", f, 2) for f in (0.3, 1.0, 3.0) for _ in range(3)] and calls[9:] == test_calls
    assert test.asked == [0, 1] and val.asked == [0, 1, 2] * 3
