"""One difference between two releases, judged for deployed clients and for code (`Change`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    OK = "ok"
    REVIEW = "review"
    BREAKING = "breaking"


OK, REVIEW, BREAKING = Verdict.OK, Verdict.REVIEW, Verdict.BREAKING

# The kind of every change found in the generated Python API (api_diff) rather than in the spec.
PYTHON_API = "python API"


@dataclass(frozen=True)
class Change:
    kind: str  # e.g. "enum value added"
    where: str  # e.g. "SequenceEnrollmentStatus" or "Enrollment.status"
    detail: str
    deployed: Verdict
    code: Verdict
    why: str = ""
    # Wrapper public functions that use the changed object (python API changes only).
    used_by: tuple[str, ...] = ()

    @property
    def breaking(self) -> bool:
        return BREAKING in (self.deployed, self.code)

    @property
    def mark(self) -> str:
        if self.breaking:
            return "BREAKING"
        return "review" if REVIEW in (self.deployed, self.code) else "ok"

    @property
    def full_detail(self) -> str:
        """The detail with the wrapper users appended, as the one-line report shows it."""
        if not self.used_by:
            return self.detail
        return f"{self.detail}; used by {', '.join(self.used_by)}"

    def line(self) -> str:
        why = f" ({self.why})" if self.why else ""
        detail = self.full_detail
        return (
            f"[{self.mark}] {self.kind}: {self.where}{': ' + detail if detail else ''}"
            f" | deployed clients: {self.deployed.value} | code: {self.code.value}{why}"
        )
