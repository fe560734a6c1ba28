"""Members of composite models: how they are named, created, fitted and reused.

A composite model names its members as models of its catalogue, optionally under an
alias (``"ease,recent=ease"``), fits each with its own parameters, and may be handed
fits its caller already made: every fit is stamped with a fingerprint of its inputs
(:func:`movierec.models.base.fit_fingerprint`), so :func:`fit_members` reuses a model
only when the model, its parameters and everything it read are the same, and
otherwise fits it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import scipy.sparse as sp

from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import ConfigError
from movierec.models.base import Recommender, RefitAware, ReusesFits, fit_fingerprint

Catalogue = Mapping[str, type[Recommender]]


def member_specs(members: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Member specs from a tuple or a comma-separated string ("ease,fm").

    A spec is a model name, or ``alias=model`` to use one model twice with other
    parameters (``"ease,recent=ease"``; the alias keys `member_params`, the features
    and the weights).

    Examples
    --------
    >>> member_specs("ease, recent=ease")
    ('ease', 'recent=ease')
    """
    if isinstance(members, str):
        return tuple(name.strip() for name in members.split(",") if name.strip())
    return tuple(members)


def parse_member(spec: str) -> tuple[str, str]:
    """``(alias, model name)`` of a member spec.

    Examples
    --------
    >>> parse_member("recent=ease"), parse_member("fm")
    (('recent', 'ease'), ('fm', 'fm'))
    """
    alias, equals, model = spec.partition("=")
    alias, model = alias.strip(), (model if equals else alias).strip()
    if not alias or not model:
        raise ConfigError(f"member {spec!r}: expected a model name or alias=model")
    return alias, model


def member_names(members: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The members' names (their aliases where given), in order.

    Examples
    --------
    >>> member_names("ease, recent=ease")
    ('ease', 'recent')
    """
    return tuple(parse_member(spec)[0] for spec in member_specs(members))


def check_members(owner: str, members: str | tuple[str, ...] | list[str], catalogue: Catalogue) -> None:
    """Raise a ConfigError unless the members are distinct names of models in `catalogue`."""
    names = member_names(members)
    if not names:
        raise ConfigError(f"{owner} needs at least one member model, e.g. members = \"ease\"")
    if len(set(names)) != len(names):
        raise ConfigError(f"{owner} needs distinct member names (alias=model for a second copy), got {members!r}")
    unknown = sorted({model for _, model in map(parse_member, member_specs(members))} - set(catalogue))
    if unknown:
        raise ConfigError(f"{owner} members cannot be {unknown}; a {owner} holds {', '.join(sorted(catalogue))}")


def fit_members(
    members: str | tuple[str, ...] | list[str],
    member_params: dict[str, dict[str, Any]] | None,
    X: sp.csr_matrix,
    *,
    catalogue: Catalogue,
    features: EncodedFeatures | None = None,
    valid: sp.csr_matrix | None = None,
    timestamps: sp.csr_matrix | None = None,
    fits: Mapping[str, Recommender] | None = None,
) -> dict[str, Recommender]:
    """Every member fitted on `X`, by name (alias), with its `member_params` entry.

    `fits` are models the caller already fitted: a member whose alias, model and
    parameters match one of them, fitted on the same `X`, `features`, `valid` and
    `timestamps`, is that model, not a second fit of it. Members fitted here are
    offered in turn to later members that have members of their own, so an ensemble of
    ``"ease,fm,rerank"`` trains EASE and FM once, not once more inside the reranker.
    """
    fingerprint = fit_fingerprint(X, features, valid, timestamps)
    fitted: dict[str, Recommender] = {}
    for spec in member_specs(members):
        alias, name = parse_member(spec)
        unfitted = create_member(name, (member_params or {}).get(alias), catalogue)
        known = (fits or {}).get(alias)
        if known is not None and same_fit(known, unfitted, fingerprint):
            fitted[alias] = known
            continue
        if isinstance(unfitted, ReusesFits):
            unfitted.offer_fits(dict(fits or {}) | fitted)
        fitted[alias] = unfitted.fit(X, features=features, valid=valid, timestamps=timestamps)
    return fitted


def create_member(name: str, params: dict[str, Any] | None, catalogue: Catalogue) -> Recommender:
    """A new model of `catalogue` by name; bad parameters are a ConfigError naming it."""
    if name not in catalogue:
        raise ConfigError(f"unknown member model {name!r}; expected one of {', '.join(sorted(catalogue))}")
    try:
        return catalogue[name](**(params or {}))
    except TypeError as error:
        raise ConfigError(f"member model {name!r}: {error}") from None


def same_fit(fitted: Recommender, unfitted: Recommender, fingerprint: str) -> bool:
    """Whether `fitted` is what fitting `unfitted` on inputs of this fingerprint gives."""
    return (type(fitted) is type(unfitted) and fitted.get_params() == unfitted.get_params()
            and getattr(fitted, "fit_fingerprint_", None) == fingerprint)


def stopped_params(member_params: dict[str, dict[str, Any]] | None,
                   fitted: Mapping[str, Recommender]) -> dict[str, dict[str, Any]]:
    """Each fitted member's own parameters plus what it found on validation (its `refit_params`).

    What a member needs to train again without validation to stop on, e.g. FM's or a
    VAE's best epoch count.
    """
    own = member_params or {}
    return {name: dict(own.get(name, {})) | (dict(model.refit_params()) if isinstance(model, RefitAware) else {})
            for name, model in fitted.items()}
