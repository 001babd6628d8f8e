"""Named events with plain callables as observers: what a Qt signal does, without Qt.

The view model (`view_model.py`) must be testable without a QApplication and must
not import Qt, yet the window, the error review and the Trust panel follow its
changes; this is all the machinery that needs.
"""

from __future__ import annotations

from collections.abc import Callable

Observer = Callable[[], None]


class Events:
    """A fixed set of event names, each with its observers in the order they connected.

    Observers take no arguments and read the state they observe: an event says what
    changed, never carries a copy of it that could go stale.
    """

    def __init__(self, *names: str) -> None:
        self._observers: dict[str, list[Observer]] = {name: [] for name in names}

    def connect(self, name: str, observer: Observer) -> None:
        """Call `observer` on every `name` event; an unknown name fails here, at wiring
        time, not silently by never firing."""
        self._check(name)
        self._observers[name].append(observer)

    def emit(self, name: str) -> None:
        self._check(name)
        for observer in list(self._observers[name]):
            observer()

    def _check(self, name: str) -> None:
        if name not in self._observers:
            raise ValueError(f"no event {name!r}; the events are {', '.join(self._observers)}")
