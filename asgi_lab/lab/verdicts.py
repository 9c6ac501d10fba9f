"""Verdicts: a measured value against its theoretical bound, as a ratio where 1.0 is the ideal.

Every claim the lab makes ends in a `Verdict`. Three shapes cover nearly all:

- `at_most`: the measurement may not exceed the bound (elapsed time against physics);
  ratio = measured / bound, passing at <= 1.05.
- `near`: the measurement should equal the bound from either side (a request that waited
  for another); ratio = measured / bound, passing from 1/1.05 to 1.05.
- `exactly`: a count that must match (pids, threads, connections, positions in order);
  ratio = measured / expected, passing only at 1.0.

`uneven` is an `at_least` where 1.0 fails: the busiest worker's count must beat an even split's
(the kernel's accept race is not round-robin), so its ratio must stay below 1.

The numbers they judge come from the clients' timings and from the records (`observed.py`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TOLERANCE",
    "Verdict",
    "at_least",
    "at_most",
    "exactly",
    "in_order",
    "latency_unaffected",
    "near",
    "uneven",
    "waves",
]

#: Timing claims pass when the ratio to their bound is at most this.
TOLERANCE = 1.05


@dataclass(frozen=True)
class Verdict:
    """One claim, what was measured, its bound, and whether the ratio stays in [low, high]."""

    claim: str
    measured: float
    bound: float
    unit: str
    ratio: float
    low: float = 0.0
    high: float = TOLERANCE
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.low <= self.ratio <= self.high

    @property
    def timing(self) -> bool:
        """Whether the claim has slack (a time, or `uneven`'s count against an even split); an
        `exactly` count has none."""
        return not (self.low == self.high == 1.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "measured": self.measured,
            "bound": self.bound,
            "unit": self.unit,
            "ratio": None if math.isinf(self.ratio) else self.ratio,
            "accepts": [self.low, self.high],
            "passed": self.passed,
            "note": self.note,
        }


def _ratio(measured: float, bound: float) -> float:
    if bound == 0:
        return 1.0 if measured == 0 else math.inf
    return measured / bound


def at_most(
    claim: str,
    measured: float,
    bound: float,
    unit: str = "s",
    *,
    tolerance: float = TOLERANCE,
    note: str = "",
) -> Verdict:
    """Passes when `measured` exceeds `bound` by at most `tolerance` (a factor)."""
    return Verdict(claim, measured, bound, unit, _ratio(measured, bound), high=tolerance, note=note)


def near(
    claim: str,
    measured: float,
    bound: float,
    unit: str = "s",
    *,
    tolerance: float = TOLERANCE,
    note: str = "",
) -> Verdict:
    """Passes when `measured` is within a factor `tolerance` of `bound`, either side."""
    ratio = _ratio(measured, bound)
    return Verdict(claim, measured, bound, unit, ratio, 1 / tolerance, tolerance, note)


def at_least(
    claim: str,
    measured: float,
    bound: float,
    unit: str = "s",
    *,
    tolerance: float = TOLERANCE,
    note: str = "",
) -> Verdict:
    """Passes when `measured` reaches `bound` within `tolerance`; ratio = bound / measured."""
    ratio = _ratio(bound, measured) if measured else math.inf
    return Verdict(claim, measured, bound, unit, ratio, high=tolerance, note=note)


def exactly(claim: str, measured: int, expected: int, unit: str = "", *, note: str = "") -> Verdict:
    """Passes only when the count is the expected one."""
    return Verdict(claim, measured, expected, unit, _ratio(measured, expected), 1.0, 1.0, note)


def waves(claim: str, elapsed: float, requests: int, slots: int, seconds: float) -> Verdict:
    """`requests` jobs of `seconds` each, `slots` at a time, take ceil(requests/slots) waves.

    Two-sided: finishing a wave early would mean more slots than claimed.
    """
    bound = math.ceil(requests / slots) * seconds
    note = f"ceil({requests}/{slots}) x {seconds:g} s"
    return near(claim, elapsed, bound, "s", note=note)


def uneven(claim: str, counts: Sequence[int], unit: str = "") -> Verdict:
    """Passes when the busiest of `counts` got more than any share of an even split.

    An `at_least` whose bound is the busiest count of the most even split, ceil(total / len),
    and whose ratio (even / busiest) must stay below 1: counts are whole, so "more" is at least
    one more. All on one gives about 1 / len(counts).
    """
    if len(counts) < 2 or any(c < 0 for c in counts) or sum(counts) == 0:
        raise ValueError(
            f"counts must be 2 or more counts of at least 0, not all 0, got {counts!r}"
        )
    total = sum(counts)
    even = math.ceil(total / len(counts))
    note = f"even: ceil({total}/{len(counts)})"
    return at_least(claim, max(counts), even, unit, tolerance=even / (even + 1), note=note)


def latency_unaffected(
    claim: str, latencies: Sequence[float], alone: Sequence[float], noise: float
) -> Verdict:
    """The median latency under load against the median alone, plus a stated noise allowance
    and the request's own spread (its slowest time alone less its median): a layer whose
    requests vary more alone may vary as much under load, which is not the effect ruled out."""
    if not alone or not latencies:
        raise ValueError(
            f"{claim!r} needs at least one latency under load and one alone,"
            f" got {len(latencies)} and {len(alone)}"
        )
    middle = statistics.median(alone)
    spread = max(alone) - middle
    bound = middle + noise + spread
    note = (
        f"median alone {middle * 1e3:.2f} ms + {noise * 1e3:g} ms scheduler noise"
        f" + {spread * 1e3:.2f} ms spread alone"
    )
    return at_most(claim, statistics.median(latencies), bound, "s", note=note)


def in_order(seen: Sequence[Any], expected: Sequence[Any]) -> int:
    """How many positions of `seen` hold what `expected` holds there."""
    return sum(1 for a, b in zip(seen, expected, strict=False) if a == b)
