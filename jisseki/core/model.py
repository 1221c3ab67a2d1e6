"""The figure: what every source's measure produces and the warehouse lands."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

CITY = "city"


@dataclass(frozen=True, slots=True)
class Figure:
    kpi_id: str
    period: str          # "2025-04" or "FY2025"
    scope: str           # "city" or a 6-digit ward code
    as_of: date          # the last day counted
    value: float
    numerator: float | None = None
    denominator: float | None = None
    checks: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)  # columns only validation reads
    evidence: str = field(default="", compare=False)  # 根拠 of a manual entry, kept in its lineage
    commentary: str = field(default="", compare=False)  # 所見 of a manual entry, kept in kpi_commentary

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kpi_id, self.period, self.scope)

    def same_as(self, value: float, numerator: float | None, denominator: float | None, as_of: date) -> bool:
        return (as_of == self.as_of and _close(value, self.value)
                and _close(numerator, self.numerator) and _close(denominator, self.denominator))


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
