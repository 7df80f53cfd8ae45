"""How a multipart upload cuts an object into parts (no I/O).

One rule for every backend that uploads in parts, so that the writer that cuts
the parts and the code that must predict them (the sync engine computing the
ETag S3 will list for a local file) can never disagree:

- with the total size known (``size_hint``), an object of at most
  ``single_put_max`` bytes (or one part) goes up in one request; a bigger one
  has its first part size grown, in whole MiB, so that it fits in
  ``max_parts`` parts;
- without it, the part size doubles every ``growth_interval`` parts (capped at
  ``max_part_size``), so any object below the service's limit fits even when
  its size is unknown up front. Memory stays bounded by about
  ``(parts in flight + 1) x current part size``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MiB", "PartLayout"]

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True, slots=True)
class PartLayout:
    """The part sizes of a multipart upload.

    Attributes:
        part_size: the configured part size (the first part's, unless grown).
        max_parts: the service's part-count limit.
        max_part_size: the service's largest part.
        growth_interval: parts between two doublings when the size is unknown.
        single_put_max: the largest object the writer sends in one request when
            told its size (0: only what fits in one part).
    """

    part_size: int
    max_parts: int = 10_000
    max_part_size: int = 5 * GiB
    growth_interval: int = 900
    single_put_max: int = 0

    def base(self, size_hint: int | None) -> int:
        """The first part size: ``part_size``, grown (in whole MiB) so ``size_hint`` fits."""
        if size_hint is None or size_hint <= self.part_size * self.max_parts:
            return self.part_size
        needed = math.ceil(size_hint / self.max_parts)
        return min(self.max_part_size, math.ceil(needed / MiB) * MiB)

    def size_of(self, number: int, base: int) -> int:
        """The size of part ``number`` (1-based) of an upload whose first part is ``base``."""
        doublings = (number - 1) // self.growth_interval
        return min(self.max_part_size, base << doublings)

    def lengths(self, size: int) -> list[int] | None:
        """The parts an object of ``size`` bytes is cut into when the writer is told its
        size; ``None`` when it goes up in one request (no multipart upload): it fits in
        one part or in ``single_put_max``."""
        base = self.base(size)
        if size <= base or size <= self.single_put_max:
            return None
        lengths: list[int] = []
        left, number = size, 1
        while left > 0:
            length = min(left, self.size_of(number, base))
            lengths.append(length)
            left -= length
            number += 1
        return lengths
