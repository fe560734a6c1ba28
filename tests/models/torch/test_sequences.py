"""Sequence models (SASRec, BERT4Rec) and their sequences, on tiny hand-drawn cases.

A sequential planted structure: 40 users walk a ring of 20 items in order, each from
its own start, one step per timestamp::

    user u: items s, s+1, s+2, ... (mod 20), s = u mod 20, 12 items

so the next item is always the last one + 1: a model that reads order gets it, a
model that only counts co-occurrence cannot tell the next item from the previous one.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from movierec.data.interactions import csr_from_indices
from movierec.exceptions import ConfigError, DataError
from movierec.models.torch import BERT4Rec, SASRec
from movierec.models.torch.sasrec import gbce_loss, sample_negatives
from movierec.models.torch.sequences import has_ties, length_batches, user_sequences

N_USERS, N_ITEMS, LENGTH = 40, 20, 12


def _ring():
    starts = np.arange(N_USERS) % N_ITEMS
    items = (starts[:, None] + np.arange(LENGTH + 1)) % N_ITEMS
    rows = np.repeat(np.arange(N_USERS), LENGTH)
    X = csr_from_indices(rows, items[:, :LENGTH].ravel(), (N_USERS, N_ITEMS))
    T = sp.csr_matrix((np.tile(np.arange(LENGTH, dtype=np.float64), N_USERS) + 1.0,
                       (rows, items[:, :LENGTH].ravel())), shape=X.shape)
    T.sort_indices()
    nxt = csr_from_indices(np.arange(N_USERS), items[:, LENGTH], X.shape)
    return X, T, nxt


X, T, NEXT = _ring()


def test_sequences_are_ordered_in_time_ties_by_item_and_keep_the_latest():
    X = csr_from_indices(np.array([0, 0, 0, 0, 1]), np.array([3, 1, 2, 0, 4]), (2, 5))
    times = sp.csr_matrix((np.array([5.0, 5.0, 9.0, 1.0, 2.0]), (np.array([0, 0, 0, 0, 1]),
                                                                np.array([3, 1, 2, 0, 4]))), shape=(2, 5))
    times.sort_indices()
    aligned = np.asarray(times[X.nonzero()]).ravel()
    # user 0: item 0 (t1), then items 1 and 3 (both t5: by index), then item 2 (t9); tokens are item + 1
    assert user_sequences(X, aligned, 5).tolist() == [[0, 1, 2, 4, 3], [0, 0, 0, 0, 5]]
    assert user_sequences(X, aligned, 2).tolist() == [[4, 3], [0, 5]]


def test_length_batches_cover_every_row_once_and_group_similar_lengths():
    lengths = np.array([1, 9, 2, 8, 3, 7, 4, 6])
    batches = length_batches(lengths, 2, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(8))
    assert all(np.ptp(lengths[batch]) <= 1 for batch in batches)
    again = length_batches(lengths, 2, np.random.default_rng(0))
    assert all((a == b).all() for a, b in zip(batches, again))


def test_gbce_is_bce_at_t_zero_and_negatives_avoid_the_sequence():
    positive, negative = torch.tensor([0.3, -1.0]), torch.tensor([[0.5, -0.2], [1.0, 0.0]])
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = (bce(positive, torch.ones(2), reduction="none")
                + bce(negative, torch.zeros(2, 2), reduction="none").sum(1)).mean()
    torch.testing.assert_close(gbce_loss(positive, negative, beta=1.0), expected)
    sequences = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7]])
    drawn = sample_negatives(sequences, 10, 500, torch.Generator().manual_seed(0))
    assert drawn.shape == (2, 500) and drawn.min() >= 0 and drawn.max() < 10
    assert not set(drawn[0].tolist()) & {0, 1, 2} and not set(drawn[1].tolist()) & {3, 4, 5, 6}


@pytest.mark.parametrize("cls, params", [
    (SASRec, {}), (SASRec, {"ema_decay": 0.0}), (SASRec, {"loss": "gbce", "n_negatives": 2, "gbce_t": 0.0, "lr": 1e-2}),
    (BERT4Rec, {"lr": 3e-3, "epochs": 300}),  # a masked item trains a few positions per sequence, not every
    # one: it needs many more epochs than SASRec, and fewer sit at the bar on some CPUs
], ids=["sasrec", "sasrec-no-average", "sasrec-gbce", "bert4rec"])
def test_the_next_item_of_a_ring_is_found(cls, params):
    model = cls(**{"dim": 16, "epochs": 40, "batch_size": 8, "device": "cpu"} | params).fit(X, timestamps=T)
    items, _ = model.recommend(np.arange(N_USERS), k=1)
    assert (items[:, 0] == NEXT.indices).mean() >= 0.9


def test_order_is_what_fold_in_reads():
    model = SASRec(dim=16, epochs=40, batch_size=8, device="cpu").fit(X, timestamps=T)
    user = 3
    row = X[[user]]
    forward = model.score_history(row, T[[user]])
    backward = T[[user]].copy()
    backward.data = backward.data.max() + 1.0 - backward.data
    reversed_scores = model.score_history(row, backward)
    np.testing.assert_allclose(forward, model.score(np.array([user])), rtol=1e-5, atol=1e-6)
    assert np.argmax(np.where(row.toarray() > 0, -np.inf, forward)) == NEXT.indices[user]
    assert np.argmax(np.where(row.toarray() > 0, -np.inf, reversed_scores)) != NEXT.indices[user]


def test_a_continued_model_scores_known_users_from_the_longer_sequences():
    """Fitted on the first 10 items of each ring, continued through items 11 and 12: the
    same network then recommends item 13, as fold-in of the whole history does."""
    keep = np.asarray(T[X.nonzero()]).ravel() <= LENGTH - 2
    rows, cols = X.nonzero()
    short = csr_from_indices(rows[keep], cols[keep], X.shape)
    short_times = sp.csr_matrix((np.asarray(T[X.nonzero()]).ravel()[keep], (rows[keep], cols[keep])), shape=X.shape)
    short_times.sort_indices()
    model = SASRec(dim=16, epochs=40, batch_size=8, device="cpu").fit(short, timestamps=short_times)
    before = model.score(np.arange(N_USERS))
    longer = model.continued(X, T)
    items, _ = longer.recommend(np.arange(N_USERS), k=1)
    assert (items[:, 0] == NEXT.indices).mean() >= 0.9
    np.testing.assert_allclose(longer.score(np.arange(N_USERS)), longer.score_history(X, T), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.score(np.arange(N_USERS)), before)  # a copy: the fitted model is as it was
    assert longer.module_ is model.module_ and longer.X_.nnz == X.nnz
    with pytest.raises(DataError, match="continues the sequences of its 40 users"):
        model.continued(X[:5], T[:5])


def test_several_seeds_score_with_the_mean_of_the_networks_one_seed_each_trains():
    settings = {"dim": 16, "epochs": 3, "batch_size": 8, "device": "cpu"}
    both = SASRec(n_seeds=2, **settings).fit(X, timestamps=T)
    first, second = (SASRec(random_state=seed, **settings).fit(X, timestamps=T) for seed in (0, 1))
    users = np.arange(N_USERS)
    np.testing.assert_allclose(both.score(users), (first.score(users) + second.score(users)) / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both.score_history(X[:3], T[:3]), both.score(users[:3]), rtol=1e-5, atol=1e-6)


def test_weight_averaging_keeps_another_network_than_the_last_weights():
    settings = {"dim": 16, "epochs": 3, "batch_size": 8, "device": "cpu"}
    plain, averaged = (SASRec(ema_decay=decay, **settings).fit(X, timestamps=T) for decay in (0.0, 0.9))
    users = np.arange(N_USERS)
    assert not np.allclose(plain.score(users), averaged.score(users))
    np.testing.assert_allclose(averaged.score_history(X[:3], T[:3]), averaged.score(users[:3]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model_class", [SASRec, BERT4Rec])
def test_shuffled_ties_reorder_only_the_items_of_one_second_anew_each_epoch(model_class, monkeypatch):
    """The ring with every two items in one second: the batches of each epoch hold the
    same users and the same pairs in the same places; only the order within a pair moves."""
    tied = T.copy()
    tied.data = np.ceil(tied.data / 2)  # positions 1-2, 3-4, ... share a second
    batches = []
    original = model_class._batch_loss

    def recording(self, module, sequences, generator):
        batches.append(sequences.clone())
        return original(self, module, sequences, generator)

    monkeypatch.setattr(model_class, "_batch_loss", recording)
    settings = {"dim": 8, "epochs": 3, "batch_size": 64, "device": "cpu"}  # one batch of every user an epoch
    model_class(shuffle_ties=False, **settings).fit(X, timestamps=tied)
    plain, batches[:] = batches[:], []
    shuffled = model_class(shuffle_ties=True, **settings).fit(X, timestamps=tied)
    assert len(plain) == len(batches) == 3
    def in_item_order(sequences):
        return sequences.reshape(len(sequences), -1, 2).sort(dim=2).values.reshape(sequences.shape)

    for by_item, by_draw in zip(plain, batches):
        assert torch.equal(in_item_order(by_draw), by_item)  # the same pairs; without the option in item order
    assert not torch.equal(plain[0], batches[0]) and not torch.equal(batches[0], batches[1])  # drawn anew
    scored = torch.from_numpy(shuffled.sequences_)
    assert torch.equal(in_item_order(scored), scored)  # scoring keeps the item order
    assert has_ties(X, tied.data) and not has_ties(X, T.data)  # (T: one item a second, nothing to shuffle)


@pytest.mark.parametrize("model_class", [SASRec, BERT4Rec])
def test_sequence_models_score_without_their_padding_as_with_it(model_class):
    """Padding keys are masked, so the length-sorted, trimmed blocks score as the
    full-width sequences do (users of lengths 1..12, blocks of several widths)."""
    keep = np.asarray(T[X.nonzero()]).ravel() <= 1 + np.arange(N_USERS)[X.nonzero()[0]] % LENGTH
    rows, cols = X.nonzero()
    ragged = csr_from_indices(rows[keep], cols[keep], X.shape)
    times = sp.csr_matrix((np.asarray(T[X.nonzero()]).ravel()[keep], (rows[keep], cols[keep])), shape=X.shape)
    times.sort_indices()
    model = model_class(dim=16, epochs=2, batch_size=8, max_len=16, device="cpu").fit(ragged, timestamps=times)
    trimmed = model.score(np.arange(N_USERS))
    model.padding_free = False  # the instance scores at the full width
    np.testing.assert_allclose(trimmed, model.score(np.arange(N_USERS)), rtol=1e-4, atol=1e-5)


def test_sequence_models_need_timestamps_and_sane_parameters():
    with pytest.raises(DataError, match="timestamps"):
        SASRec(epochs=1, device="cpu").fit(X)
    timeless = T.copy()
    timeless.data[:] = 0.0  # data without a time column: the sequences would be item-index order
    with pytest.raises(DataError, match="same timestamp"):
        BERT4Rec(epochs=1, device="cpu").fit(X, timestamps=timeless)
    for bad in ({"dim": 10, "n_heads": 3}, {"loss": "hinge"}, {"gbce_t": 2.0}, {"max_len": 0}, {"n_seeds": 0},
                {"ema_decay": 1.0}, {"ema_decay": -0.1}):
        with pytest.raises(ConfigError):
            SASRec(**bad, device="cpu").fit(X, timestamps=T)
    with pytest.raises(ConfigError, match="mask_prob"):
        BERT4Rec(mask_prob=1.0, device="cpu").fit(X, timestamps=T)
