"""What the composite models (reranker, ensemble) share: members, their reuse, the inner hold-out.

A composite model learns something on top of its members' scores (a booster's
ranking, blend weights) and needs labels for it that are not what it is measured
on. With validation labels it takes them from `valid` (measured out of fold, or
in-sample for a few weights, see docs/design.md); without them, e.g. in the refit
on train+valid, it falls back to an *inner* hold-out of `X`, written once here:
:meth:`CompositeModel._inner_fit` carves it with the splitters' own rule and fits
the members on the inner history for as long as the members' early stopping found.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import scipy.sparse as sp

from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import ConfigError
from movierec.models.base import ContinuesSequences, Recommender
from movierec.models.composite.members import (
    Catalogue,
    check_members,
    create_member,
    fit_members,
    member_names,
    member_specs,
    parse_member,
    stopped_params,
)
from movierec.split.holdout import check_rule, holdout_matrix

INHERITED = ("random_state", "valid_k")  # what members take from the composite unless told otherwise


@dataclass(frozen=True)
class InnerFit:
    """An inner hold-out of a training matrix and the members fitted on its history."""

    history: sp.csr_matrix
    holdout: sp.csr_matrix
    history_times: sp.csr_matrix | None
    members: dict[str, Recommender]
    features: EncodedFeatures | None  # as seen from `history` (its own pairs' tags only)


class CompositeModel(Recommender):
    """Base of the reranker and the ensemble: a model over named member models.

    Subclasses set `catalogue` (the models a member may be) and store `members`,
    `member_params`, `inner_tail`, `inner_fraction`, `valid_k` and `random_state`.
    """

    catalogue: ClassVar[Catalogue]
    members: str | tuple[str, ...]
    member_params: dict[str, dict[str, Any]] | None
    inner_tail: int
    inner_fraction: float
    valid_k: int
    random_state: int
    members_: dict[str, Recommender]

    def offer_fits(self, fits: Mapping[str, Recommender]) -> None:
        """Fits to use as members at the next `fit` where model, parameters and inputs
        match (see :class:`movierec.models.base.ReusesFits`); forgotten after it."""
        self._offered = {name: model for name, model in fits.items() if hasattr(model, "fit_fingerprint_")}

    @property
    def _names(self) -> tuple[str, ...]:
        return member_names(self.members)

    def _check_params(self) -> None:
        check_members(self.name, self.members, self.catalogue)
        check_rule(self.inner_tail, self.inner_fraction)
        aliases = [parse_member(spec)[0] for spec in member_specs(self.members)]
        if not isinstance(self.member_params or {}, dict):
            raise ConfigError(f"{self.name} member_params is a table of member name -> parameters, got "
                              f"{self.member_params!r}")
        for alias, params in (self.member_params or {}).items():  # a misspelt alias would train at the defaults
            if alias not in aliases:
                raise ConfigError(f"{self.name} member_params names {alias!r}, not a member ({', '.join(aliases)})")
            if not isinstance(params, dict):
                raise ConfigError(f"{self.name} member_params.{alias} is a table of that member's parameters, "
                                  f"e.g. {{l2 = 300.0}}; got {params!r}")
        settings = self.member_settings()
        for spec in member_specs(self.members):  # each member's own settings, before any member trains
            alias, model = parse_member(spec)
            try:
                create_member(model, settings[alias], self.catalogue).check_params()
            except ConfigError as error:
                raise ConfigError(f"{self.name} member {alias!r}: {error}") from None

    def member_settings(self, params: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
        """Each member's parameters (`params`, default `member_params`), with this model's
        `random_state` and `valid_k` for members that take them and were not given them:
        the run's seed and list length reach every member."""
        params = self.member_params if params is None else params
        settings = {}
        for spec in member_specs(self.members):
            alias, model = parse_member(spec)
            own = dict((params or {}).get(alias, {}))
            accepted = inspect.signature(self.catalogue[model].__init__).parameters
            settings[alias] = {key: getattr(self, key) for key in INHERITED if key in accepted} | own
        return settings

    def _fit_members(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
                     timestamps: sp.csr_matrix | None) -> dict[str, Recommender]:
        """The members fitted on `X` (with `valid` for their own early stopping), reusing offered fits."""
        offered = self.__dict__.pop("_offered", None)
        return fit_members(self.members, self.member_settings(), X, catalogue=self.catalogue, features=features,
                           valid=valid, timestamps=timestamps, fits=offered)

    def _inner_fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, timestamps: sp.csr_matrix | None,
                   seed: int) -> InnerFit:
        """An inner hold-out of `X` (seeded) and the members fitted on its history.

        The inner members train as long as the fitted members' early stopping found
        (`stopped_params`), so they behave like the ones whose scores are used, and read
        the side fields as seen from their history (a held-out pair's tag left out).
        """
        history, holdout, history_times = holdout_matrix(X, timestamps=timestamps, tail=self.inner_tail,
                                                         fraction=self.inner_fraction, seed=seed)
        seen = features.seen_from(history) if features is not None else None
        members = fit_members(self.members, self.member_settings(self.stopped_member_params()), history,
                              catalogue=self.catalogue, features=seen, timestamps=history_times)
        return InnerFit(history, holdout, history_times, members, seen)

    def stopped_member_params(self) -> dict[str, dict[str, Any]]:
        """The members' parameters with what their early stopping found (e.g. epochs)."""
        return stopped_params(self.member_settings(), self.members_)

    def continued(self, history: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> CompositeModel:
        """A copy whose sequence members score known users from `history` (train+valid), as
        they are tested alone without refit (:class:`ContinuesSequences`); the other members
        and what this model learned on top of them are unchanged."""
        self._check_fitted()
        longer = copy.copy(self)
        longer.members_ = {alias: member.continued(history, timestamps) if isinstance(member, ContinuesSequences)
                           else member for alias, member in self.members_.items()}
        return longer

    def refit_params(self) -> dict[str, Any]:
        """The members' parameters with what their early stopping found, for a refit without valid."""
        self._check_fitted()
        return {"member_params": self.stopped_member_params()}
