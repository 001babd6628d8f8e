"""A table that keeps only its newest entries."""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

#: Readings are tiny; this just stops an endless folder walk from growing forever.
MAX_ENTRIES = 512


class Recent(OrderedDict[K, V]):
    """What was stored last, forgetting the oldest beyond `limit` (reading an entry does
    not renew it). For small facts learnt as a side effect (a reading, a file's content
    key), which are cheap to learn again and must not pile up over a long session."""

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> None:
        self[key] = value
        while len(self) > self.limit:
            self.popitem(last=False)
