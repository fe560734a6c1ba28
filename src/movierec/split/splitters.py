"""Seeded, vectorised splitters: no Python loop over users or interactions.

Every splitter sorts interactions by (user, time, item), computes each row's position
in its user's sequence, and holds rows out with the one per-user rule of
:mod:`movierec.split.holdout` (the last items, a random share). At least one
interaction per user always stays in training.

Items a user watched in the same second have no order in time. Where the last items
are held out (the competition and temporal protocols), such ties are ordered at random
(seeded), as the inner hold-out orders them: ordered by item id, the "last" items of a
tie would be its highest ids, a pick that follows the catalogue's order (on ml-100k,
less popular films) and that a sequence model fed ties in id order learns to predict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from movierec.checks import is_whole_number
from movierec.data.interactions import sorted_by
from movierec.exceptions import SplitError
from movierec.split.holdout import hold_out
from movierec.split.split import Split

PROTOCOL_READS = {"competition": ("tail", "fraction"), "random": ("fraction",), "temporal": ("tail",)}
PROTOCOLS = tuple(PROTOCOL_READS)  # each protocol and the SplitSpec fields it holds out by


def unread(protocol: str, values: dict) -> list[str]:
    """The hold-out sizes among `values` (tail, fraction) that `protocol` does not hold
    out by, which would be ignored (none for an unknown protocol: SplitSpec names it)."""
    reads = PROTOCOL_READS.get(protocol)
    return [] if reads is None else [key for key in values if key in ("tail", "fraction") and key not in reads]


@dataclass(frozen=True)
class SplitSpec:
    """How to hold out test and validation interactions.

    protocol
        ``competition``: per user, the last ``tail`` items plus ``fraction`` of the
        earlier ones at random; ``random``: ``fraction`` of each user's items at random;
        ``temporal``: the last ``tail`` items.
    The validation part is carved from the rest with the same rule. `seed` draws the
    random share and the order of items watched at the same time.
    """

    protocol: str = "competition"
    tail: int = 2
    fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise SplitError(f"protocol {self.protocol!r} unknown; expected one of {PROTOCOLS}")
        if self.tail < 0 or not 0.0 <= self.fraction < 1.0:
            raise SplitError(f"need tail >= 0 and 0 <= fraction < 1, got {self.tail}, {self.fraction}")
        if not is_whole_number(self.seed, 0):
            raise SplitError(f"the split's seed (--seed) must be a whole number >= 0, got {self.seed!r}")


def make_split(interactions: pd.DataFrame, spec: SplitSpec) -> Split:
    """Split `interactions` into train/valid/test following `spec`.

    Raises
    ------
    SplitError
        The protocol holds out each user's last items but every interaction has the same
        timestamp (data without a time column): "last" would be the highest item ids; or
        the split holds no validation or no test items (histories too short, or nothing
        asked to be held out), which no model could be tuned or tested on.
    """
    times = interactions["timestamp"].to_numpy() if "timestamp" in interactions else np.zeros(0)
    if spec.protocol != "random" and spec.tail > 0 and len(times) > 1 and (times == times[0]).all():
        raise SplitError(
            f"the {spec.protocol} protocol holds out each user's last {spec.tail} items, but every interaction "
            "has the same timestamp (does the data have a time column?); use --protocol random (in a config: "
            "[split] protocol = \"random\"), or give the interactions their times"
        )
    if spec.protocol == "competition":
        split = competition_split(interactions, tail=spec.tail, fraction=spec.fraction, seed=spec.seed)
    elif spec.protocol == "random":
        split = random_split(interactions, fraction=spec.fraction, seed=spec.seed)
    else:
        split = temporal_split(interactions, tail=spec.tail, seed=spec.seed)
    empty = [part for part in ("valid", "test") if getattr(split, part).empty]
    if empty:
        longest = int(interactions.groupby("user").size().max()) if len(interactions) else 0
        reads = PROTOCOL_READS[spec.protocol]
        if "tail" in reads and longest >= 3 and spec.tail > longest - 2:
            # the tail is taken twice (test, then validation) and a training item stays: L - 2 at most
            advice = f"hold out a shorter tail (--tail {longest - 2} or less)"
        else:
            advice = f"give data with longer histories, or hold out more ({', '.join(f'--{name}' for name in reads)})"
        raise SplitError(
            f"the {spec.protocol} split ({', '.join(f'{name} {getattr(spec, name)}' for name in reads)}) holds no "
            f"{' and no '.join(empty)} items: every user keeps at least one training item, and the longest history "
            f"here has {longest}; {advice}")
    return split


def competition_split(interactions: pd.DataFrame, *, tail: int = 2, fraction: float = 0.1, seed: int = 0) -> Split:
    """The competition's hidden set: the last `tail` items plus `fraction` of the earlier ones."""
    hold = lambda frame, rng: _hold_mixed(frame, tail, fraction, rng)  # noqa: E731
    return _two_stage(interactions, hold, hold, seed, ties_at_random=tail > 0)


def random_split(interactions: pd.DataFrame, *, fraction: float = 0.1, seed: int = 0) -> Split:
    """Per user, `fraction` of the items to test and the same share of the whole to valid.

    The default gives the usual 80/10/10 split per user.
    """
    if not 0.0 < fraction < 0.5:
        raise SplitError(f"random split needs 0 < fraction < 0.5, got {fraction}")
    sizes = interactions.groupby("user", sort=False).size()

    def hold_valid(rest: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        # round(fraction * the user's whole count), like test: a ratio of what is left
        # (fraction / (1 - fraction)) rounds differently for about 1 user in 10
        whole = rest["user"].map(sizes).to_numpy()
        return _hold_mixed(rest, 0, fraction, rng, share_of=whole)

    return _two_stage(interactions, lambda frame, rng: _hold_mixed(frame, 0, fraction, rng), hold_valid, seed,
                      ties_at_random=False)


def temporal_split(interactions: pd.DataFrame, *, tail: int = 1, seed: int = 0) -> Split:
    """Leave the last `tail` items of each user for test and the `tail` before for valid
    (items watched at the same time in an order drawn with `seed`)."""
    if tail < 1:
        raise SplitError(f"temporal split needs tail >= 1, got {tail}")
    hold = lambda frame, rng: _hold_mixed(frame, tail, 0.0, rng)  # noqa: E731
    return _two_stage(interactions, hold, hold, seed, ties_at_random=True)


def _two_stage(interactions: pd.DataFrame, hold_test, hold_valid, seed: int, *, ties_at_random: bool) -> Split:
    # a third stream for the ties, so data without ties splits as before it existed
    test_rng, valid_rng, tie_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    frame = _sorted(interactions)
    if ties_at_random:
        frame = _ties_shuffled(frame, tie_rng)
    test_mask = hold_test(frame, test_rng)
    rest = frame[~test_mask].reset_index(drop=True)
    valid_mask = hold_valid(rest, valid_rng)
    return Split(
        train=rest[~valid_mask].reset_index(drop=True),
        valid=rest[valid_mask].reset_index(drop=True),
        test=frame[test_mask].reset_index(drop=True),
    )


def _sorted(interactions: pd.DataFrame) -> pd.DataFrame:
    missing = {"user", "item", "timestamp"} - set(interactions.columns)
    if missing:
        raise SplitError(f"interactions need columns user, item, timestamp; missing {sorted(missing)}")
    return sorted_by(interactions, ["user", "timestamp", "item"]).reset_index(drop=True)


def _ties_shuffled(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """`frame` (sorted by user and time) with each run of one user's rows at one time in
    a random order; unchanged where no two rows tie."""
    users, times = frame["user"].to_numpy(), frame["timestamp"].to_numpy()
    starts = np.r_[True, (users[1:] != users[:-1]) | (times[1:] != times[:-1])]
    if starts.all():
        return frame
    run = np.cumsum(starts) - 1  # the tie's number, ascending along the frame
    return frame.iloc[np.argsort(run + rng.random(len(frame)), kind="stable")].reset_index(drop=True)


def _hold_mixed(
    frame: pd.DataFrame, tail: int, fraction: float, rng: np.random.Generator,
    *, share_of: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`~movierec.split.holdout.hold_out` on a frame sorted by (user, time)."""
    codes = pd.factorize(frame["user"])[0]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sizes = np.diff(np.r_[starts, len(frame)])
    position = np.arange(len(frame)) - np.repeat(starts, sizes)
    return hold_out(codes, position, tail, fraction, rng, share_of=share_of)
