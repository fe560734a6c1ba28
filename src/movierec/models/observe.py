"""Watching training from outside: every validated epoch shown to whoever asked.

A tuner prunes a poor trial after a few epochs by raising from its observer, without
the models knowing about tuning; the shared torch loop (:mod:`movierec.models.torch.loop`)
calls the observers. No torch here, so the tuning layer can import it freely.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

EpochObserver = Callable[[int, float], None]  # (epoch, validation recall); raising stops the fit
_observers: ContextVar[tuple[EpochObserver, ...]] = ContextVar("epoch_observers", default=())


@contextlib.contextmanager
def observe_epochs(observer: EpochObserver) -> Iterator[None]:
    """Within the block, every validated epoch of every fit is shown to `observer`."""
    token = _observers.set(_observers.get() + (observer,))
    try:
        yield
    finally:
        _observers.reset(token)


def epoch_observers() -> tuple[EpochObserver, ...]:
    return _observers.get()
