"""FM, CFM and deep CFM on a tiny planted matrix: they learn, are seeded, pickle, rerank.

Fixture (24 users x 20 items): users 0..11 like items 0..9, users 12..23 items 10..19;
each user has 6 training items of their block, 2 validation, 2 test. An item field
``block`` names the block (so FM can also learn it through features)::

    users 0..11   | ######.... ..........
    users 12..23  | .......... ######....
"""

import pickle

import numpy as np
import pytest
import torch

from movierec.data.dataset import FieldKind
from movierec.data.encoded import EncodedFeatures, FeatureField
from movierec.data.interactions import csr_from_indices
from movierec.evaluate import evaluate
from movierec.models.base import Recommender, RefitAware
from movierec.models.registry import create, model_names
from movierec.models.torch.cfm import CFM, DeepCFM
from movierec.models.torch.fields import FieldLayout
from movierec.models.torch.fm import FM
from movierec.models.torch.modules import CFMModule, PatchConv3d, conv_plan, window_order

N_USERS, N_ITEMS, BLOCK = 24, 20, 10


def planted(seed: int = 0):
    rng = np.random.default_rng(seed)
    group = np.arange(N_USERS) // (N_USERS // 2)
    order = np.argsort(rng.random((N_USERS, BLOCK)), axis=1) + group[:, None] * BLOCK
    rows = np.arange(N_USERS)[:, None]

    def part(cols):
        return csr_from_indices(np.broadcast_to(rows, cols.shape).ravel(), cols.ravel(), (N_USERS, N_ITEMS))

    block = FeatureField("block", FieldKind.ONE_HOT, csr_from_indices(np.arange(N_ITEMS), np.arange(N_ITEMS) // BLOCK,
                                                                      (N_ITEMS, 2)), np.array(["a", "b"], dtype=object))
    return part(order[:, :6]), part(order[:, 6:8]), part(order[:, 8:10]), EncodedFeatures({"block": block}, {})


TRAIN, VALID, TEST, FEATURES = planted()
FAST = {
    FM: {"dim": 8, "epochs": 30, "lr": 0.03, "batch_size": 32, "reg": 0.0, "device": "cpu"},
    CFM: {"dim": 8, "channels": 16, "depth": 3, "epochs": 8, "batch_size": 32, "lr": 0.01, "optimizer": "adam", "patience": 20,
          "pretrain_params": {"epochs": 30, "lr": 0.03, "batch_size": 32, "reg": 0.0}, "valid_users": None,
          "device": "cpu"},
    DeepCFM: {"dim": 8, "channels": 8, "depth": 5, "epochs": 20, "batch_size": 32, "lr": 0.01,
              "optimizer": "adam", "patience": 20, "pretrain_fm": False, "valid_users": None, "device": "cpu"},
}


@pytest.fixture(scope="module")
def fitted():
    return {cls: cls(**params).fit(TRAIN, features=FEATURES, valid=VALID) for cls, params in FAST.items()}


@pytest.mark.parametrize("cls", list(FAST))
def test_learns_the_planted_blocks(cls, fitted):
    model = fitted[cls]
    items, _ = model.recommend(np.arange(N_USERS), k=2)
    group = np.arange(N_USERS)[:, None] // (N_USERS // 2)
    assert ((items // BLOCK) == group).mean() >= 0.9
    recall = evaluate(model.score, TEST, exclude=TRAIN + VALID, k=2)["recall@2"]
    assert recall >= 0.3  # random within the block would give 2/4 * 2/2 ~ 0.5; across blocks ~0.1


def test_fm_without_features_is_mf_with_biases():
    model = FM(**FAST[FM]).fit(TRAIN, features=None, valid=VALID)
    assert len(model.module_.items.tables) == 1 and len(model.module_.users.tables) == 1
    items, _ = model.recommend(np.arange(N_USERS), k=2)
    assert ((items // BLOCK) == (np.arange(N_USERS)[:, None] // 12)).mean() >= 0.9


@pytest.mark.parametrize("cls", [FM, CFM])
def test_same_seed_same_scores(cls, fitted):
    again = cls(**FAST[cls]).fit(TRAIN, features=FEATURES, valid=VALID)
    np.testing.assert_allclose(again.score(np.arange(N_USERS)), fitted[cls].score(np.arange(N_USERS)), atol=1e-6)
    other = cls(**FAST[cls], random_state=1).fit(TRAIN, features=FEATURES, valid=VALID)
    assert not np.allclose(other.score(np.arange(N_USERS)), fitted[cls].score(np.arange(N_USERS)))


@pytest.mark.parametrize("cls", list(FAST))
def test_save_load_and_refit_params(cls, fitted, tmp_path):
    model = fitted[cls]
    model.save(tmp_path / "model.pkl")
    loaded = Recommender.load(tmp_path / "model.pkl")
    np.testing.assert_array_equal(loaded.score(np.arange(5)), model.score(np.arange(5)))
    loaded.device = "cuda:99"  # saved on a GPU this machine lacks: it scores on the CPU
    np.testing.assert_array_equal(loaded.score(np.arange(5)), model.score(np.arange(5)))
    assert isinstance(model, RefitAware)
    epochs = model.refit_params()["epochs"]
    assert 1 <= epochs <= FAST[cls]["epochs"] and epochs == model.train_result_.best_epoch
    refit = model.with_params(**model.refit_params()).fit(TRAIN + VALID, features=FEATURES)
    assert len(refit.train_result_.history) == epochs


def test_cfm_reranks_candidates_when_the_catalogue_is_large(fitted):
    model = CFM(**FAST[CFM] | {"rerank_threshold": 5, "n_candidates": 6}).fit(TRAIN, features=FEATURES)
    scores = model.score(np.arange(4))
    assert (np.isfinite(scores).sum(axis=1) == 6).all()
    seen = TRAIN[:4].toarray() > 0
    assert not np.isfinite(scores[seen]).any()  # candidates exclude the history
    candidates = np.argsort(np.where(np.isfinite(scores), 0, 1), axis=1, kind="stable")[:, :6]
    np.testing.assert_allclose(np.take_along_axis(scores, candidates, 1),
                               model.score_pairs(np.arange(4), candidates), rtol=1e-5)


def test_cfm_pretrains_with_fm():
    model = CFM(**FAST[CFM] | {"epochs": 1}).fit(TRAIN, features=FEATURES, valid=VALID)
    assert isinstance(model.pretrained_, FM)
    torch.testing.assert_close(model.pretrained_.module_.items.tables[0].weight.shape,
                               model.module_.items.tables[0].weight.shape)


def test_registered():
    assert {"fm", "cfm", "deepcfm"} <= set(model_names())
    assert isinstance(create("deepcfm"), DeepCFM) and create("deepcfm").batch_norm


@pytest.mark.parametrize("window", [(2, 2, 2), (1, 2, 2), (2, 1, 1)])
def test_patch_convolution_equals_conv3d(window):
    """The reshape + matmul convolution on window-ordered positions against torch's own Conv3d (kernel = stride)."""
    torch.manual_seed(0)
    patch = PatchConv3d(3, 5, window)
    reference = torch.nn.Conv3d(3, 5, window, stride=window)
    with torch.no_grad():  # linear weight (out, kd*kh*kw*c_in) in window-major order
        kernel = patch.linear.weight.view(5, *window, 3).permute(0, 4, 1, 2, 3)
        reference.weight.copy_(kernel)
        reference.bias.copy_(patch.linear.bias)
        x = torch.randn(2, 5, 7, 6, 3)  # channels-last, odd sizes dropped like VALID padding
        ours = patch(windowed(x, [window]))
        theirs = reference(x.permute(0, 4, 1, 2, 3)).permute(0, 2, 3, 4, 1)
    torch.testing.assert_close(ours, theirs.reshape(2, -1, 5), rtol=1e-5, atol=1e-5)


def windowed(x: torch.Tensor, plan: list[tuple[int, int, int]]) -> torch.Tensor:
    """A channels-last (N, D, H, W, C) cube laid out in window order for `plan`: (N, positions, C)."""
    order = torch.from_numpy(window_order(tuple(x.shape[1:4]), plan))
    return x.reshape(len(x), -1, x.shape[-1])[:, order]


def test_window_order_nests_every_layers_windows_and_skips_dropped_positions():
    """Against a direct recursion: each output position lists its window's inputs, each of those its own."""
    shape, plan = (5, 4, 6), [(2, 2, 2), (2, 1, 3), (1, 2, 1)]
    grid = np.arange(np.prod(shape)).reshape(shape).tolist()
    cells = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        cells[index] = [int(np.ravel_multi_index(index, shape))]
    for window in plan:
        size = [s // w for s, w in zip(cells.shape, window)]
        merged = np.empty(size, dtype=object)
        for index in np.ndindex(*size):
            merged[index] = [v for offset in np.ndindex(*window)
                             for v in cells[tuple(i * w + o for i, w, o in zip(index, window, offset))]]
        cells = merged
    expected = [v for index in np.ndindex(*cells.shape) for v in cells[index]]
    cube = torch.arange(np.prod(shape)).reshape(1, *shape, 1)
    assert windowed(cube, plan).ravel().tolist() == expected
    assert len(expected) == 4 * 4 * 6 < len(np.ravel(grid))  # pair 4 never reaches the output


def small_cfm(**params) -> CFMModule:
    """A CFM network over 3 user and 3 item one-hot fields (15 field pairs), seeded."""
    def layout(name: str, n_values: int) -> FieldLayout:
        return FieldLayout(name, n_values, (np.arange(12) % n_values)[:, None], np.ones((12, 1), np.float32))
    torch.manual_seed(0)
    return CFMModule([layout(f"u{f}", 5) for f in range(3)], [layout(f"i{f}", 4) for f in range(3)],
                     init_std=0.5, **{"dim": 6, "channels": 4, "depth": 3} | params).eval()


@pytest.mark.parametrize("params", [{}, {"pair_window": 3, "depth": 2}, {"batch_norm": True, "residual": True}])
def test_cfm_interaction_equals_the_cube_through_conv3d_layers(params):
    """The window-ordered cube against the plain one: every field pair's outer product,
    a Conv3d stack (kernel = stride, VALID), the mean over the positions left."""
    module = small_cfm(**params)
    users, items = torch.arange(12), torch.arange(12).flip(0)
    with torch.no_grad():
        user_fields, _ = module.users(users)
        item_fields, _ = module.items(items)
        fields = torch.cat([user_fields, item_fields], 1)
        left, right = torch.triu_indices(6, 6, offset=1)
        hidden = torch.einsum("npi,npj->npij", fields[:, left], fields[:, right]).unsqueeze(1)  # (N, C, D, H, W)
        for block in module.blocks:
            window, c_out = block.conv.window, block.conv.linear.out_features
            conv = torch.nn.Conv3d(hidden.shape[1], c_out, window, stride=window, bias=block.conv.linear.bias is not None)
            conv.weight.copy_(block.conv.linear.weight.view(c_out, *window, hidden.shape[1]).permute(0, 4, 1, 2, 3))
            if conv.bias is not None:
                conv.bias.copy_(block.conv.linear.bias)
            out = conv(hidden)
            if block.norm is not None:
                out = torch.nn.functional.batch_norm(out, block.norm.running_mean, block.norm.running_var,
                                                     block.norm.weight, block.norm.bias, False, 0.0, block.norm.eps)
            if block.residual:
                pooled = torch.nn.functional.avg_pool3d(hidden[:, :, : out.shape[2] * window[0],
                                                               : out.shape[3] * window[1], : out.shape[4] * window[2]],
                                                        window)
                out = out + block.project(pooled.movedim(1, -1)).movedim(-1, 1)
            hidden = block.act(out)
        expected = module.out(hidden.mean((2, 3, 4))).squeeze(-1)
        torch.testing.assert_close(module.interaction(user_fields, item_fields), expected, rtol=1e-5, atol=1e-6)


def test_a_cfm_network_pickled_before_the_window_order_still_scores():
    """Networks pickled when each layer cut its own windows lack `first`, `second` and `size`."""
    module = small_cfm()
    users, items = torch.arange(12), torch.arange(12)
    with torch.no_grad():
        expected, _ = module(users, items)
    old = pickle.loads(pickle.dumps(module))
    del old._buffers["first"], old._buffers["second"]
    for block in old.blocks:
        del block.conv.size
    with torch.no_grad():
        scores, _ = pickle.loads(pickle.dumps(old))(users, items)
    torch.testing.assert_close(scores, expected, rtol=0, atol=0)


def test_conv_plan_reaches_one_and_stays_valid():
    plan = conv_plan(21, 16, 8, 2)
    assert plan[:4] == [(2, 2, 2)] * 4 and plan[-1] == (1, 1, 1)
    shape = [21, 16, 16]
    for window in plan:
        shape = [s // w for s, w in zip(shape, window)]
        assert min(shape) >= 1


def test_activation_probe_and_gradient_norms():
    from movierec.models.torch.probes import ActivationProbe, gradient_norms, layer_name

    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]]))
        net[0].bias.zero_()
    with ActivationProbe(net) as probe:
        net(torch.tensor([[1.0, 5.0], [2.0, -1.0]]))  # unit 0 positive, units 1 and 2 never
    assert probe.dead_shares() == {"1": pytest.approx(2 / 3)}
    net(torch.ones(1, 2)).sum().backward()
    norms = gradient_norms(net)
    assert set(norms) == {"0"} and norms["0"] > 0
    assert layer_name("blocks.3.conv.linear.weight") == "blocks.3" and layer_name("users.tables.0.weight") == "users"


def test_cfm_fm_term_adds_the_fm_pairwise_sum():
    model = CFM(**FAST[CFM] | {"epochs": 1, "fm_term": True}).fit(TRAIN, features=FEATURES)
    module = model.module_.eval()
    users, items = torch.tensor([0, 13]), torch.tensor([[1, 15], [2, 16]])
    with torch.no_grad():
        with_term, _ = module(users, items)
        module.fm_term = False
        without, _ = module(users, items)
        module.fm_term = True
        fields = torch.cat([module.users(users.repeat_interleave(2))[0], module.items(items.reshape(-1))[0]], 1)
        pairwise = sum((fields[:, f] * fields[:, g]).sum(-1) for f in range(3) for g in range(f + 1, 3))
    torch.testing.assert_close(with_term - without, pairwise.view(2, 2), rtol=1e-4, atol=1e-5)
