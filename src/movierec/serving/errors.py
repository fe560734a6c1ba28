"""What a loaded run refuses to answer, each a `MovieRecError` the service maps to a 4xx."""

from __future__ import annotations

from movierec.exceptions import MovieRecError


class UnknownUser(MovieRecError, LookupError):
    """A user id the run never saw: recommend from a history instead."""


class UnknownItem(MovieRecError, LookupError):
    """An item id the run's catalogue does not hold."""


class UnknownModel(MovieRecError, LookupError):
    """A model name the run did not save."""


class NoFoldIn(MovieRecError, ValueError):
    """The model cannot score a user from a history alone."""


class NoExplanation(MovieRecError, ValueError):
    """The model's scores are not sums over the watched items, so it cannot say which led to a recommendation."""


class EmptyHistory(MovieRecError, ValueError):
    """The model scores every item alike for the history: none of its items is in the
    catalogue, or the model learned nothing from those that are."""
