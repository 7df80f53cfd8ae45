"""Write policies of a mirror: how many destinations must publish for a write to succeed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ALL", "BEST_EFFORT", "ReadPolicy", "WritePolicy", "quorum"]

ReadPolicy = Literal["first", "fastest"]
"""``"first"``: destinations in order, failing over on temporary errors (and, if asked, on
not-found). ``"fastest"``: open the first two healthy destinations at once, use the first
that answers."""


@dataclass(frozen=True, slots=True)
class WritePolicy:
    """How many destinations must publish a write.

    - ``all``: every destination stages every byte before any publishes; then all must
      publish. A late failure rolls create-only copies back, or raises ``PartialPublish``
      for overwrites.
    - ``quorum``: at least ``k`` must publish; the rest are reported.
    - ``best_effort``: at least one must publish; every failure is reported.
    """

    kind: Literal["all", "quorum", "best_effort"]
    k: int = 0

    def required(self, destinations: int) -> int:
        """How many of ``destinations`` must publish."""
        if self.kind == "all":
            return destinations
        if self.kind == "quorum":
            return self.k
        return 1

    def __str__(self) -> str:
        return f"quorum({self.k})" if self.kind == "quorum" else self.kind


ALL = WritePolicy("all")
BEST_EFFORT = WritePolicy("best_effort")


def quorum(k: int) -> WritePolicy:
    """At least ``k`` destinations must publish (``k >= 1``)."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"quorum needs k >= 1, got {k!r}")
    return WritePolicy("quorum", k)
