"""Members of composite models (reranker, ensemble): how they are named, fitted and reused.

A composite model names its members as registered models, optionally under an alias
(``"ease,recent=ease"``), fits each with its own parameters, and may be handed
members its caller already fitted: :func:`fit_model` stamps every fit with a
fingerprint of its inputs, so :func:`fit_members` reuses a model only when the model,
its parameters and everything it read are the same, and otherwise fits it again.
"""

from __future__ import annotations

import hashlib
import inspect
from typing import Any

import numpy as np
import scipy.sparse as sp

from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import ConfigError
from movierec.models.base import Recommender, RefitAware


def member_specs(members: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Member specs from a tuple or a comma-separated string ("ease,fm").

    The string form lets a TOML config fix the members (a TOML list would be read as
    a grid of single names). A spec is a registered model name, or ``alias=model`` to
    use one model twice with other parameters (``"ease,recent=ease"``; the alias keys
    `member_params`, the features and the weights).

    Examples
    --------
    >>> member_specs("ease, recent=ease")
    ('ease', 'recent=ease')
    """
    if isinstance(members, str):
        return tuple(name.strip() for name in members.split(",") if name.strip())
    return tuple(members)


def parse_member(spec: str) -> tuple[str, str]:
    """``(alias, registered model name)`` of a member spec.

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


def fit_model(
    model: Recommender,
    X: sp.csr_matrix,
    *,
    features: EncodedFeatures | None = None,
    valid: sp.csr_matrix | None = None,
    timestamps: sp.csr_matrix | None = None,
    fitted_members: dict[str, Recommender] | None = None,
) -> Recommender:
    """Fit `model`, passing `timestamps` and `fitted_members` only to models whose
    `fit` takes them (models written before timestamps travelled beside `X` keep
    working), and stamp it with its inputs' :func:`fit_fingerprint` so that
    :func:`fit_members` can reuse it."""
    kwargs: dict[str, Any] = {"features": features, "valid": valid}
    if timestamps is not None and accepts(model, "timestamps"):
        kwargs["timestamps"] = timestamps
    if fitted_members and accepts(model, "fitted_members"):
        kwargs["fitted_members"] = fitted_members
    model = model.fit(X, **kwargs)
    model.fit_fingerprint_ = _fingerprint_for(model, X, features, valid, timestamps)
    return model


def fit_members(
    members: str | tuple[str, ...] | list[str],
    member_params: dict[str, dict[str, Any]] | None,
    X: sp.csr_matrix,
    *,
    features: EncodedFeatures | None = None,
    valid: sp.csr_matrix | None = None,
    timestamps: sp.csr_matrix | None = None,
    fitted_members: dict[str, Recommender] | None = None,
) -> dict[str, Recommender]:
    """Every member fitted on `X`, by name (alias), with its `member_params` entry.

    `fitted_members` are models the caller already fitted (through :func:`fit_model`):
    a member whose alias, model and parameters match one of them, fitted on the same
    `X`, `features`, `valid` and `timestamps`, is that model, not a second fit of it.
    Members fitted here are offered in turn to later members that have members of their
    own, so an ensemble of ``"ease,fm,rerank"`` trains EASE and FM once, not once more
    inside the reranker.
    """
    from movierec.models.registry import create  # the registry imports this module's users

    fitted: dict[str, Recommender] = {}
    for spec in member_specs(members):
        alias, model = parse_member(spec)
        params = (member_params or {}).get(alias)
        known = (fitted_members or {}).get(alias)
        unfitted = create(model, **(params or {}))
        if known is not None and _same_fit(known, unfitted, X, features, valid, timestamps):
            fitted[alias] = known
            continue
        fitted[alias] = fit_model(unfitted, X, features=features, valid=valid, timestamps=timestamps,
                                  fitted_members=(fitted_members or {}) | fitted)
    return fitted


def stopped_params(member_params: dict[str, dict[str, Any]] | None,
                   fitted: dict[str, Recommender]) -> dict[str, dict[str, Any]]:
    """Each fitted member's own parameters plus what it found on validation (its `refit_params`).

    What a member needs to train again without validation to stop on, e.g. FM's or a
    VAE's best epoch count.
    """
    own = member_params or {}
    return {name: dict(own.get(name, {})) | (dict(model.refit_params()) if isinstance(model, RefitAware) else {})
            for name, model in fitted.items()}


def fit_fingerprint(
    X: sp.csr_matrix,
    features: EncodedFeatures | None,
    valid: sp.csr_matrix | None,
    timestamps: sp.csr_matrix | None,
) -> str:
    """A digest of everything a fit reads besides its parameters: two fits with equal
    parameters and fingerprints are the same fit. Hashes the arrays in place (no copy);
    the same matrix stored with its indices in another order hashes differently, which
    costs a refit, never a wrong reuse."""
    digest = hashlib.blake2b(digest_size=16)

    def add(matrix: sp.spmatrix | None) -> None:
        if matrix is None:
            digest.update(b"none")
            return
        matrix = sp.csr_matrix(matrix)
        digest.update(repr((matrix.shape, matrix.dtype.str)).encode())
        for array in (matrix.indptr, matrix.indices, matrix.data):
            digest.update(np.ascontiguousarray(array))

    for matrix in (X, valid, timestamps):
        add(matrix)
    for kind, fields in (("item", features.item_fields), ("user", features.user_fields)) if features else ():
        for name in sorted(fields):
            digest.update(f"{kind}:{name}".encode())
            add(fields[name].matrix)
    return digest.hexdigest()


def _fingerprint_for(model: Recommender, X, features, valid, timestamps) -> str:
    """The fingerprint of what `model` reads: the timestamps only if its `fit` takes them."""
    return fit_fingerprint(X, features, valid, timestamps if accepts(model, "timestamps") else None)


def _same_fit(fitted: Recommender, unfitted: Recommender, X, features, valid, timestamps) -> bool:
    """Whether `fitted` is what fitting `unfitted` on these inputs gives."""
    return (type(fitted) is type(unfitted) and fitted.get_params() == unfitted.get_params()
            and getattr(fitted, "fit_fingerprint_", None) == _fingerprint_for(unfitted, X, features, valid, timestamps))


def accepts(model: Recommender, keyword: str) -> bool:
    """Whether ``model.fit`` takes the optional `keyword` (``timestamps``, ``fitted_members``)."""
    return keyword in inspect.signature(model.fit).parameters
