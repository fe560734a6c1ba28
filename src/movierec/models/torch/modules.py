"""The networks: a factorization machine that splits into user and item sides, and CFM.

Both take ``(users (B,), items (B,) or (B, n))`` and return ``(scores, penalty)``:
scores shaped like `items`, and the mean squared norm of the embeddings used, which
the training loop weights by ``reg`` (per-batch L2, as in BPR-MF, so rare items are
not shrunk by epochs in which they never appear).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from movierec.models.torch.fields import FieldEmbedder, FieldLayout


class FMModule(nn.Module):
    """Factorization machine (Rendle 2010) over user-side and item-side fields.

    With field embeddings ``v_f`` and first-order weights ``w_f``,
    ``y = w0 + sum_f w_f + sum_{f<g} <v_f, v_g>``. Splitting the fields into the
    user side U and the item side I,
    ``sum_{f<g} <v_f, v_g> = <s_U, s_I> + within(U) + within(I)`` with
    ``s_U = sum_{f in U} v_f`` and ``within(U) = (||s_U||^2 - sum_{f in U} ||v_f||^2) / 2``,
    so the scores of every item for a batch of users are one matrix product
    ``S_U @ S_I^T`` plus a per-user and a per-item term (:meth:`user_side`,
    :meth:`item_side`).
    """

    def __init__(self, user_layouts: list[FieldLayout], item_layouts: list[FieldLayout], dim: int,
                 init_std: float = 0.01) -> None:
        super().__init__()
        self.users = FieldEmbedder(user_layouts, dim, init_std)
        self.items = FieldEmbedder(item_layouts, dim, init_std)
        self.bias = nn.Parameter(torch.zeros(()))

    @staticmethod
    def _side(embeddings: torch.Tensor, linear: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        total = embeddings.sum(1)
        within = 0.5 * (total.pow(2).sum(-1) - embeddings.pow(2).sum((1, 2)))
        return total, linear + within

    def user_side(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum of user field embeddings (B, dim), per-user term incl. the global bias (B,))."""
        total, term = self._side(*self.users(users))
        return total, term + self.bias

    def item_side(self, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum of item field embeddings (B, dim), per-item term (B,))."""
        return self._side(*self.items(items))

    def catalogue(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Scores of `users` against every item (B, n_items), and the squared norms of the
        field embeddings of each user (B,) and each item (n_items,): what training against
        the whole catalogue needs (:mod:`movierec.models.torch.catalogue`)."""
        user_embeddings, user_linear = self.users(users)
        item_embeddings, item_linear = self.items(self.items.entities())
        user_total, user_term = self._side(user_embeddings, user_linear)
        item_total, item_term = self._side(item_embeddings, item_linear)
        scores = torch.addmm(item_term.unsqueeze(0), user_total, item_total.T) + (user_term + self.bias).unsqueeze(1)
        return scores, user_embeddings.pow(2).sum((1, 2)), item_embeddings.pow(2).sum((1, 2))

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Each distinct user and item of the batch is embedded once: with n negatives per
        # positive most item slots repeat, and the embedding backward dominates a step.
        unique_users, user_index = torch.unique(users, return_inverse=True)
        unique_items, item_index = torch.unique(items.reshape(-1), return_inverse=True)
        user_embeddings, user_linear = self.users(unique_users)
        item_embeddings, item_linear = self.items(unique_items)
        user_total, user_term = self._side(user_embeddings, user_linear)
        item_total, item_term = self._side(item_embeddings, item_linear)
        per_row = items.shape[1] if items.dim() == 2 else 1
        item_total = item_total[item_index].view(len(users), per_row, -1)
        scores = (user_total[user_index].unsqueeze(1) * item_total).sum(-1)
        scores = scores + (user_term[user_index] + self.bias).unsqueeze(1)
        scores = scores + item_term[item_index].view(len(users), per_row)
        penalty = (user_embeddings.pow(2).sum((1, 2))[user_index].sum()
                   + item_embeddings.pow(2).sum((1, 2))[item_index].sum() / per_row) / len(users)
        return scores.view(items.shape), penalty


class PatchConv3d(nn.Module):
    """A 3D convolution whose kernel equals its stride, on positions laid out in window order.

    The input is (N, positions, C) with each window's positions consecutive, so the
    convolution is one linear map of each flattened run of
    ``kd * kh * kw`` positions (see `window_order`): a reshape (no copy) and a matmul,
    with the window's elements in (kd, kh, kw, C) order. Non-overlapping windows make this an order of
    magnitude faster on CPU than ``nn.Conv3d`` for these small cubes.
    """

    def __init__(self, c_in: int, c_out: int, window: tuple[int, int, int], bias: bool = True) -> None:
        super().__init__()
        self.window = window
        self.size = window[0] * window[1] * window[2]
        self.linear = nn.Linear(c_in * self.size, c_out, bias=bias)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if "size" not in self.__dict__:  # pickled when the input was a channels-last cube
            self.size = self.window[0] * self.window[1] * self.window[2]

    def windows(self, x: torch.Tensor) -> torch.Tensor:
        """(N, windows, kd * kh * kw, C): the input's runs of window positions."""
        return x.reshape(len(x), -1, self.size, x.shape[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.reshape(len(x), -1, self.size * x.shape[-1]))


def window_order(shape: tuple[int, int, int], plan: list[tuple[int, int, int]]) -> np.ndarray:
    """Flat indices into a C-ordered cube of `shape`: the positions the stack `plan` reads, in window order.

    Ordered by final position, then by the offset inside the last layer's window, then
    the one before, down to the first: every layer's windows are then consecutive runs
    of its input, so `PatchConv3d` needs no copy. Positions a VALID window drops (at any
    layer) reach no output and are left out.
    """
    finals = list(shape)
    for window in plan:
        finals = [size // k for size, k in zip(finals, window)]
    extent = [final * int(np.prod([window[axis] for window in plan])) for axis, final in enumerate(finals)]
    # each axis split into its final size, then one factor per layer's window, last layer first
    factors = [size for axis in range(3) for size in [finals[axis], *(window[axis] for window in reversed(plan))]]
    width = len(plan) + 1  # factors per axis
    axes = [axis * width + level for level in range(width) for axis in range(3)]
    kept = np.arange(np.prod(shape)).reshape(shape)[: extent[0], : extent[1], : extent[2]]
    return kept.reshape(factors).transpose(axes).ravel()


class ConvBlock(nn.Module):
    """Patch convolution, optional batch norm, activation, optional residual link.

    The residual link adds the input averaged over each window (so shapes always
    agree) and projected by a linear map when the channel count changes.
    """

    def __init__(self, c_in: int, c_out: int, window: tuple[int, int, int], *, batch_norm: bool,
                 activation: str, residual: bool) -> None:
        super().__init__()
        self.conv = PatchConv3d(c_in, c_out, window, bias=not batch_norm)
        self.norm = nn.BatchNorm1d(c_out) if batch_norm else None
        self.act = nn.LeakyReLU(0.1) if activation == "leaky_relu" else nn.ReLU()
        self.residual = residual
        if residual:
            self.project = nn.Linear(c_in, c_out, bias=False) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)  # (N, windows, c_out)
        if self.norm is not None:
            out = self.norm(out.reshape(-1, out.shape[-1])).view(out.shape)
        if self.residual:
            out = out + self.project(self.conv.windows(x).mean(-2))
        return self.act(out)


def conv_plan(n_pairs: int, dim: int, depth: int, pair_window: int) -> list[tuple[int, int, int]]:
    """The window of each layer: 2x2 over the embedding axes, `pair_window` over the pairs.

    Once an axis is down to 1 (or shorter than its window) its window becomes 1, so
    layers past the halvings act position-wise (a deep channel mixer) and any depth
    stays valid.
    """
    plan, shape = [], [n_pairs, dim, dim]
    for _ in range(depth):
        window = (pair_window if shape[0] >= pair_window else 1, 2 if shape[1] >= 2 else 1, 2 if shape[2] >= 2 else 1)
        plan.append(window)
        shape = [size // k for size, k in zip(shape, window)]
    return plan


class CFMModule(nn.Module):
    """Convolutional factorization machine (Xin et al., IJCAI 2019), optionally deep.

    The field embeddings of a (user, item) pair form an interaction cube: the outer
    product ``v_f v_g^T`` of every field pair f < g stacked into (n_pairs, dim, dim).
    A 3D convolution stack (windows of 2 halving each axis) shrinks the cube, the remaining positions are averaged
    into a vector, and ``y = w0 + sum_f w_f + h^T dropout(conv(cube))``. Only the cube
    positions that reach the output are built, directly in window order
    (`window_order`), so no layer copies its input and none computes what a later
    VALID window drops (batch norm's statistics cover the positions that count). With
    ``fm_term`` the FM pairwise sum ``sum_{f<g} <v_f, v_g>`` is added as well (not in
    the paper), so an FM-pretrained model starts at FM's ranking.
    """

    def __init__(self, user_layouts: list[FieldLayout], item_layouts: list[FieldLayout], *, dim: int,
                 channels: int, depth: int, pair_window: int = 2, batch_norm: bool = False,
                 activation: str = "relu", residual: bool = False, dropout: float = 0.2,
                 init_std: float = 0.01, fm_term: bool = False) -> None:
        super().__init__()
        self.users = FieldEmbedder(user_layouts, dim, init_std)
        self.items = FieldEmbedder(item_layouts, dim, init_std)
        self.fm_term = fm_term
        n_fields = self.users.n_fields + self.items.n_fields
        left, right = torch.triu_indices(n_fields, n_fields, offset=1)
        plan = conv_plan(len(left), dim, depth, pair_window)
        self.register_buffer("left", left)  # the field pairs f < g (kept in the state dict as ever)
        self.register_buffer("right", right)
        self._index_cube(dim, plan)
        widths = [1] + [channels] * depth
        self.blocks = nn.ModuleList(
            ConvBlock(widths[i], widths[i + 1], window, batch_norm=batch_norm, activation=activation,
                      residual=residual)
            for i, window in enumerate(plan)
        )
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(channels, 1)
        self.bias = nn.Parameter(torch.zeros(()))

    def _index_cube(self, dim: int, plan: list[tuple[int, int, int]]) -> None:
        """`first`, `second`: the cube's positions (pair, i, j) that reach the output, in
        window order, as indices into the flattened field embeddings (a position is
        ``v_left[i] * v_right[j]``)."""
        left, right = self.left.cpu(), self.right.cpu()
        pair, i, j = np.unravel_index(window_order((len(left), dim, dim), plan), (len(left), dim, dim))
        device = self.left.device
        self.register_buffer("first", (left[pair] * dim + torch.from_numpy(i)).to(device), persistent=False)
        self.register_buffer("second", (right[pair] * dim + torch.from_numpy(j)).to(device), persistent=False)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if "first" not in self._buffers:  # pickled when each layer cut its own windows
            dim = self.users.tables[0].weight.shape[1]
            self._index_cube(dim, [block.conv.window for block in self.blocks])

    def interaction(self, user_embeddings: torch.Tensor, item_embeddings: torch.Tensor) -> torch.Tensor:
        """The convolutional part alone, (N,), for aligned user and item field embeddings."""
        fields = torch.cat([user_embeddings, item_embeddings], dim=1).flatten(1)
        # index_select, not fields[:, index]: its backward adds columns where indexing's accumulates element-wise
        cube = torch.index_select(fields, 1, self.first) * torch.index_select(fields, 1, self.second)
        hidden = cube.unsqueeze(-1)  # (N, positions in window order, 1 channel)
        for block in self.blocks:
            hidden = block(hidden)
        return self.out(self.dropout(hidden.mean(1))).squeeze(-1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        per_row = items.shape[1] if items.dim() == 2 else 1
        user_embeddings, user_linear = self.users(users)
        item_embeddings, item_linear = self.items(items.reshape(-1))
        expanded = user_embeddings.repeat_interleave(per_row, dim=0)
        scores = self.interaction(expanded, item_embeddings) + item_linear
        if self.fm_term:  # FM's pairwise term kept beside the convolution, which then learns a correction
            fields = torch.cat([expanded, item_embeddings], dim=1)
            scores = scores + 0.5 * (fields.sum(1).pow(2).sum(-1) - fields.pow(2).sum((1, 2)))
        scores = scores.view(len(users), per_row) + (user_linear + self.bias).unsqueeze(1)
        penalty = (user_embeddings.pow(2).sum() + item_embeddings.pow(2).sum() / per_row) / len(users)
        return scores.view(items.shape), penalty
