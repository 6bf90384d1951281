"""Texts run in groups of similar length (`by_length`): the groups are the cheapest, and embeddings and
meta-gradients are those of the whole padded batch."""
from __future__ import annotations

import itertools
import random

import pytest
import torch
import torch.nn.functional as F

from meta_nlp.models import encoder
from meta_nlp.models.encoder import SetEncoder, by_length, cheapest_groups, tokenize

TEXTS = ["jazz", "the cat sat", "old castle on the hill", "a much longer sentence about the stock market and the rain",
         "tea", "football match tonight at eight", "an even longer sentence that goes on about trains, ferries and "
         "buses in the rain", "rain"]


def batch_of(tokenizer, texts=TEXTS):
    return tokenize(tokenizer, texts, 32, torch.device("cpu"))


def padded_cost(sorted_lengths, bounds, per_group):
    return sum((b - a) * sorted_lengths[b - 1] + per_group for a, b in zip(bounds, bounds[1:]))


@pytest.mark.parametrize("seed", range(20))
def test_cheapest_groups_are_the_cheapest_of_every_split(seed):
    rng = random.Random(seed)
    lengths = sorted(rng.randint(3, 32) for _ in range(rng.randint(1, 9)))
    per_group = rng.choice([0, 8, 64])
    bounds = cheapest_groups(lengths, per_group)
    assert bounds[0] == 0 and bounds[-1] == len(lengths) and bounds == sorted(set(bounds))
    splits = [[0, *cuts, len(lengths)] for k in range(len(lengths))
              for cuts in itertools.combinations(range(1, len(lengths)), k)]
    assert padded_cost(lengths, bounds, per_group) == min(padded_cost(lengths, s, per_group) for s in splits)


def test_groups_cover_every_row_once_each_cut_to_its_longest(tokenizer):
    batch = batch_of(tokenizer)
    groups = by_length(batch)
    assert len(groups) > 1  # these lengths are worth splitting at the default cost
    rows = torch.cat([r for r, _ in groups])
    assert sorted(rows.tolist()) == list(range(len(TEXTS)))
    for r, part in groups:
        assert part["attention_mask"][:, -1].any()  # no all-padding column left
        assert torch.equal(part["input_ids"], batch["input_ids"][r, :part["input_ids"].shape[1]])


def test_a_batch_padded_beyond_its_longest_keeps_its_row_order(tiny_model, tokenizer):
    """Two texts of unequal length whose split costs more than it saves: one group, cut, in the batch's order."""
    texts = ["the cat sat", "jazz"]
    padded = tokenizer(texts, padding="max_length", max_length=32, return_tensors="pt")
    ((rows, part),) = by_length(dict(padded))
    assert rows.tolist() == [0, 1] and part["input_ids"].shape[1] < 32
    torch.testing.assert_close(tiny_model.embed(dict(padded)), tiny_model.embed(batch_of(tokenizer, texts)),
                               rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(SetEncoder(tiny_model, dict(padded), tiny_model.adaptable_names(1))({}),
                               tiny_model.embed(batch_of(tokenizer, texts)), rtol=1e-9, atol=1e-9)


def test_an_empty_set_is_one_empty_group():
    ((rows, part),) = by_length({})
    assert part == {} and rows.numel() == 0


def test_a_batch_padded_on_the_left_is_one_group(tokenizer):
    batch = batch_of(tokenizer)
    flipped = {k: v.flip(1) for k, v in batch.items()}
    ((rows, part),) = by_length(flipped)
    assert part is flipped and rows.tolist() == list(range(len(TEXTS)))


@pytest.mark.parametrize("inner_layers", [1, -1])  # the top layer adapts (lower states reused), or all of them
def test_grouped_embeddings_and_meta_gradient_are_the_whole_batchs(tiny_model, tokenizer, monkeypatch, inner_layers):
    names = tiny_model.adaptable_names(inner_layers)
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])

    def embeddings_and_gradient():
        params = tiny_model.encoder_params()
        fast = {n: params[n] * 1.01 for n in names}  # a function of φ: the meta-gradient flows through it
        z = SetEncoder(tiny_model, batch_of(tokenizer), names)(fast)
        loss = F.cross_entropy(z @ z[:2].t() * 10, labels)
        return z.detach(), torch.autograd.grad(loss, [params[n] for n in names])

    z, grads = embeddings_and_gradient()
    monkeypatch.setattr(encoder, "GROUP_COST_TOKENS", 10 ** 9)  # one group: the whole padded batch
    assert len(by_length(batch_of(tokenizer))) == 1
    z_whole, grads_whole = embeddings_and_gradient()
    torch.testing.assert_close(z, z_whole, rtol=1e-9, atol=1e-9)
    for g, g_whole in zip(grads, grads_whole):
        torch.testing.assert_close(g, g_whole, rtol=1e-7, atol=1e-9)
