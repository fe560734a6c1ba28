"""The contract every registered model keeps, checked on a tiny planted-structure matrix.

Planted structure: two taste groups with disjoint item blocks (plus nothing shared)::

                items 0..14 (block 0)    items 15..29 (block 1)
    users 0..23   each user: 10 train     none
                  + 2 valid + 2 test
                  (1 never seen)
    users 24..39  none                    the same, in block 1

Timestamps follow each user's order: train first, then valid, then test.
Group 0 is larger, so popularity ranks block-0 items first and fails group 1. A model
that learns anything keeps each user's list inside their own block, and its test recall
beats popularity's.

Every registered model must opt in through FAST_PARAMS (small, fast hyper-parameters):
a model registered without an entry fails `test_every_registered_model_has_fast_params`,
and a model class the registry does not list fails `test_every_model_class_is_registered`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp
import tomllib

from movierec.config import RunConfig, config_from_dict, fixed_params
from movierec.data.dataset import FieldKind
from movierec.data.encoded import EncodedFeatures, FeatureField
from movierec.data.interactions import csr_from_indices
from movierec.evaluate import evaluate
from movierec.exceptions import ConfigError, NotFittedError
from movierec.models import Recommender
from movierec.models.base import ExplainsScores, FoldIn
from movierec.models.registry import MODELS, create, model_names
from movierec.models.space import Choice
from movierec.pipeline import param_grid

# name -> hyper-parameters small enough for a ~1 s fit on the planted matrix. They may
# only shrink the model or its training (SIZES) or take values of the model's own
# `param_grid` (what the pipeline searches): the contract checks the configuration
# that ships, not one tuned for this fixture. Composite models name small members.
SIZES = {"dim", "hidden", "latent", "max_len", "channels", "epochs", "batch_size", "n_seeds", "valid_users", "max_valid_users",
         "n_candidates", "iterations", "n_trials", "thread_count", "device", "members", "member_params",
         "pretrain_params"}
FAST_PARAMS: dict[str, dict] = {
    "pop": {},
    "ease": {"l2": 50.0},
    "dlae": {"l2": 50.0, "dropout": 0.5},
    "userease": {"l2": 10.0},
    "hybridease": {"l2": 200.0, "user_l2": 30.0, "user_weight": 0.5},
    "sasrec": {"dim": 16, "max_len": 16, "epochs": 15, "batch_size": 8, "device": "cpu"},
    "bert4rec": {"dim": 16, "max_len": 16, "epochs": 15, "batch_size": 8, "device": "cpu"},
    "multvae": {"hidden": 32, "latent": 8, "epochs": 40, "batch_size": 8, "device": "cpu"},
    "recvae": {"hidden": 32, "latent": 8, "epochs": 40, "batch_size": 8, "device": "cpu"},
    "ials": {"dim": 8, "epochs": 10, "device": "cpu"},
    "fm": {"dim": 16, "batch_size": 32, "device": "cpu"},
    "cfm": {"dim": 8, "channels": 16, "epochs": 8, "batch_size": 32, "valid_users": None, "device": "cpu",
            "pretrain_params": {"batch_size": 32}},
    "deepcfm": {"dim": 8, "channels": 8, "epochs": 8, "batch_size": 32, "valid_users": None, "device": "cpu",
                "pretrain_params": {"batch_size": 32}},
    "rerank": {"members": ("ease",), "member_params": {"ease": {"l2": 50.0}}, "n_candidates": 10,
               "iterations": 30, "thread_count": 1},
    "ensemble": {"members": ("ease", "pop"), "member_params": {"ease": {"l2": 50.0}}, "n_trials": 5},
}
# Baselines that are not expected to learn the planted structure.
STRUCTURE_FREE = {"pop"}

N_USERS, BLOCK, SPLIT_USER = 40, 15, 24
N_ITEMS = 2 * BLOCK


@dataclass(frozen=True)
class Planted:
    train: sp.csr_matrix
    valid: sp.csr_matrix
    test: sp.csr_matrix
    features: EncodedFeatures
    group: np.ndarray  # (n_users,) 0 or 1
    train_times: sp.csr_matrix  # seconds, the non-zeros of train: a user's order of watching

    def block_of(self, items: np.ndarray) -> np.ndarray:
        return items // BLOCK


def _planted(seed: int = 0) -> Planted:
    rng = np.random.default_rng(seed)
    group = (np.arange(N_USERS) >= SPLIT_USER).astype(np.int64)
    # per user, a random order of their block: 10 train, 2 valid, 2 test, 1 unseen
    order = np.argsort(rng.random((N_USERS, BLOCK)), axis=1) + group[:, None] * BLOCK
    users = np.arange(N_USERS)[:, None]

    def part(columns: slice) -> sp.csr_matrix:
        cols = order[:, columns]
        rows = np.broadcast_to(users, cols.shape)
        return csr_from_indices(rows.ravel(), cols.ravel(), (N_USERS, N_ITEMS))

    item_block = FeatureField(
        "block", FieldKind.ONE_HOT,
        csr_from_indices(np.arange(N_ITEMS), np.arange(N_ITEMS) // BLOCK, (N_ITEMS, 2)),
        np.array(["b0", "b1"], dtype=object),
    )
    user_age = FeatureField(  # uninformative on purpose: models must not need it
        "age", FieldKind.ONE_HOT,
        csr_from_indices(np.arange(N_USERS), np.arange(N_USERS) % 3, (N_USERS, 3)),
        np.array(["18", "25", "35"], dtype=object),
    )
    features = EncodedFeatures({"block": item_block}, {"age": user_age})
    train = part(slice(0, 10))
    position = np.argsort(np.argsort(order, axis=1), axis=1)  # each item's place in its user's order
    rows, cols = train.nonzero()
    times = sp.csr_matrix((1e6 + 1e3 * rows + position[rows, cols - group[rows] * BLOCK], (rows, cols)),
                          shape=train.shape)
    times.sort_indices()
    return Planted(train, part(slice(10, 12)), part(slice(12, 14)), features, group, times)


PLANTED = _planted()


def _fit(name: str) -> Recommender:
    model = create(name, **FAST_PARAMS[name])
    returned = model.fit(PLANTED.train, features=PLANTED.features, valid=PLANTED.valid,
                         timestamps=PLANTED.train_times)
    assert returned is model, "fit must return self"
    return model


@pytest.fixture(scope="module")
def fitted():
    cache: dict[str, Recommender] = {}

    def get(name: str) -> Recommender:
        if name not in FAST_PARAMS:
            pytest.fail(f"model {name!r} is registered but has no FAST_PARAMS entry in {__file__}")
        if name not in cache:
            cache[name] = _fit(name)
        return cache[name]

    return get


NAMES = model_names()


def test_every_registered_model_has_fast_params():
    missing = sorted(set(model_names()) - set(FAST_PARAMS))
    assert not missing, (
        f"registered models without a FAST_PARAMS entry in tests/models/test_contract.py: {missing}; "
        "add small, fast, seeded hyper-parameters so the contract test runs them"
    )


def test_fast_params_only_shrink_the_shipped_configuration():
    def check(name: str, params: dict) -> None:
        grid, search = MODELS[name].param_grid, MODELS[name].line_search

        def searched(key: str, value) -> bool:
            return search is not None and key == search.param and search.low <= value <= search.high

        odd = {key for key, value in params.items()
               if key not in SIZES and value not in grid.get(key, []) and not searched(key, value)}
        assert not odd, f"{name}: FAST_PARAMS may only shrink the model or take searched values; {sorted(odd)} do not"
        assert set(params.get("pretrain_params") or {}) <= SIZES
        for alias, member in (params.get("member_params") or {}).items():
            check(alias, member)

    for name, params in FAST_PARAMS.items():
        check(name, params)


def test_every_model_class_is_registered():
    """A model module nobody imports cannot fall out of the registry or this test."""
    import movierec.models as package

    found = {}
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Recommender) and cls.__module__ == module.__name__ and not inspect.isabstract(cls) \
                    and cls.name:
                found[cls.name] = cls
    assert found == dict(MODELS), f"model classes outside the registry: {sorted(set(found) - set(MODELS))}"


def test_registry_errors():
    with pytest.raises(ConfigError, match="unknown model 'nope'; available: .*ease"):
        create("nope")
    with pytest.raises(ConfigError, match="model 'ease'"):
        create("ease", alpha=1.0)


@pytest.mark.parametrize("name", NAMES)
def test_the_shipped_configuration_round_trips_through_a_run_config(name):
    """The defaults written as [models.NAME] in TOML come back as exactly one grid point: them."""
    params = create(name).get_params()
    config = RunConfig(models=(name,), params={name: fixed_params(params)})
    again = config_from_dict(tomllib.loads(config.to_toml()))
    assert again == config
    points = param_grid(name, again)
    assert len(points) == 1 and create(name, **points[0]).get_params() == params


@pytest.mark.parametrize("name", [name for name in NAMES if issubclass(MODELS[name], FoldIn)])
def test_fold_in_scores_a_known_history_like_the_fitted_user(name, fitted):
    model = fitted(name)
    users = np.array([0, 5, 30, 39])
    folded = model.score_history(PLANTED.train[users], PLANTED.train_times[users])
    np.testing.assert_allclose(folded, model.score(users), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [name for name in NAMES if issubclass(MODELS[name], ExplainsScores)])
def test_contributions_sum_to_the_scores(name, fitted):
    """"Because you watched": one term per watched item, adding up to the item's score,
    for a fitted user and for the same history folded in."""
    model = fitted(name)
    items = np.arange(N_ITEMS)
    for user in (0, 30):
        watched, parts = model.contributions(items, user=user)
        np.testing.assert_array_equal(watched, PLANTED.train[user].indices)
        np.testing.assert_allclose(parts.sum(axis=0), model.score(np.array([user]))[0], rtol=1e-4, atol=1e-5)
        _, folded = model.contributions(items, history=PLANTED.train[user], timestamps=PLANTED.train_times[user])
        np.testing.assert_allclose(folded, parts, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_class_attributes_and_params(name):
    cls = MODELS[name]
    assert cls.name == name
    assert cls.__doc__, "the docstring states the objective and cites the paper"
    signature = inspect.signature(cls.__init__)
    for parameter in list(signature.parameters.values())[1:]:
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}: {parameter.name} must be keyword-only"
    model = create(name, **FAST_PARAMS.get(name, {}))
    assert set(model.get_params()) == set(signature.parameters) - {"self"}
    for key, values in cls.param_grid.items():
        assert key in model.get_params() and len(values) >= 1
    clone = model.with_params(**model.get_params())
    assert clone is not model and clone.get_params() == model.get_params()


@pytest.mark.parametrize("name", NAMES)
def test_the_search_space_names_parameters_whose_ends_pass_the_checks(name):
    """`movierec tune` draws from `search_space`: a name the model does not take, or an end
    of a range its own checks refuse, would fail trials instead of searching."""
    cls = MODELS[name]
    params = create(name, **FAST_PARAMS.get(name, {})).get_params()
    for key, dimension in cls.search_space.items():
        assert key in params, f"{name}: search_space names {key!r}, not a parameter"
        ends = dimension.values if isinstance(dimension, Choice) else (dimension.low, dimension.high)
        for value in ends:
            create(name, **FAST_PARAMS.get(name, {}) | {key: value}).check_params()


@pytest.mark.parametrize("name", NAMES)
def test_not_fitted_error_before_fit(name):
    model = create(name, **FAST_PARAMS.get(name, {}))
    with pytest.raises(NotFittedError):
        model.score(np.array([0]))
    with pytest.raises(NotFittedError):
        model.recommend(np.array([0]), k=3)


@pytest.mark.parametrize("name", NAMES)
def test_output_shapes_and_masking(name, fitted):
    model = fitted(name)
    users = np.array([3, 0, 39, 24])
    scores = model.score(users)
    assert scores.shape == (4, N_ITEMS)
    # -inf is allowed (a reranker scores only its candidates), nan never is
    assert not np.isnan(scores).any()
    assert (np.isfinite(scores).sum(axis=1) >= 5).all()
    items, values = model.recommend(users, k=5)
    assert items.shape == (4, 5) and values.shape == (4, 5)
    assert ((items >= 0) & (items < N_ITEMS)).all()
    assert (np.diff(values, axis=1) <= 0).all(), "lists are best first"
    seen = PLANTED.train[users].toarray().astype(bool)
    assert not np.take_along_axis(seen, items, axis=1).any(), "seen items are excluded"
    unmasked, _ = model.recommend(users, k=5, exclude_seen=False)
    assert unmasked.shape == (4, 5)
    assert model.score(np.array([], dtype=np.int64)).shape == (0, N_ITEMS)


@pytest.mark.parametrize("name", NAMES)
def test_scores_belong_to_the_caller(name, fitted):
    """Masking the returned block in place must work and must not reach the model."""
    model = fitted(name)
    users = np.array([1, 30])
    first = model.score(users)
    before = first.copy()
    first[:, :5] = -np.inf  # raises on a read-only view
    np.testing.assert_array_equal(model.score(users), before)


@pytest.mark.parametrize("name", NAMES)
def test_recovers_planted_structure_and_beats_popularity(name, fitted):
    if name in STRUCTURE_FREE:
        pytest.skip(f"{name} is a structure-free baseline")
    model = fitted(name)
    users = np.arange(N_USERS)
    items, _ = model.recommend(users, k=3)
    in_block = PLANTED.block_of(items) == PLANTED.group[:, None]
    assert in_block.mean() >= 0.95, f"{name}: only {in_block.mean():.2f} of recommendations in the user's block"
    known = (PLANTED.train + PLANTED.valid).tocsr()  # validation items are known, not hidden
    ours = evaluate(model.score, PLANTED.test, exclude=known, k=3)["recall@3"]
    popular = evaluate(fitted("pop").score, PLANTED.test, exclude=known, k=3)["recall@3"]
    assert ours >= popular + 0.15, f"{name}: recall@3 {ours:.3f} vs popularity {popular:.3f}"


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_result(name, fitted):
    first = fitted(name).score(np.arange(N_USERS))
    again = _fit(name).score(np.arange(N_USERS))
    np.testing.assert_allclose(again, first, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip(name, fitted, tmp_path):
    model = fitted(name)
    path = tmp_path / f"{name}.pkl"
    model.save(path)
    loaded = Recommender.load(path)
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    users = np.arange(N_USERS)
    np.testing.assert_array_equal(loaded.score(users), model.score(users))
    np.testing.assert_array_equal(loaded.recommend(users, k=5)[0], model.recommend(users, k=5)[0])


def test_planted_fixture_is_what_the_docstring_draws():
    assert PLANTED.train.sum(axis=1).A1.tolist() == [10] * N_USERS
    assert PLANTED.test.sum(axis=1).A1.tolist() == [2] * N_USERS
    every = (PLANTED.train + PLANTED.valid + PLANTED.test).toarray()
    assert every.max() == 1  # the parts are disjoint
    assert not every[:SPLIT_USER, BLOCK:].any() and not every[SPLIT_USER:, :BLOCK].any()


@pytest.mark.parametrize("params, fragment", [
    ({"l2": "big"}, "l2 takes a number, got 'big'"),
    ({"l2": {"low": 10.0, "high": 1000.0}}, "range is for `movierec tune`"),
    ({"l2": True}, "l2 takes a number"),
])
def test_a_parameter_of_the_wrong_kind_is_a_config_error_naming_it(params, fragment):
    from movierec.models.registry import create
    from movierec.models.user_ease import UserEASE

    with pytest.raises(ConfigError, match=re.escape(fragment)):
        create("ease", **params)
    assert create("ease", l2=np.float64(5.0), max_items=None).l2 == 5.0  # numpy numbers and allowed None pass
    with pytest.raises(ConfigError, match="max_items must be a whole number"):  # no default tells the kind
        create("ease", max_items="x").fit(sp.csr_matrix(np.eye(4, dtype=np.float32)))
    with pytest.raises(ConfigError, match="wrong kind"):  # a comparison the value cannot take, caught at fit
        UserEASE(l2="x").check_params()  # constructed directly: no type check on the way in
