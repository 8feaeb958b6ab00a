"""The moves a case's status may make, in one explicit table."""

from __future__ import annotations

from contact_center.errors import Conflict
from contact_center.models.cases import CaseStatus

__all__ = ["TRANSITIONS", "check_transition", "pauses_sla"]

S = CaseStatus

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.NEW: frozenset({S.OPEN, S.PENDING, S.ON_HOLD, S.RESOLVED, S.CLOSED}),
    S.OPEN: frozenset({S.PENDING, S.ON_HOLD, S.RESOLVED, S.CLOSED}),
    S.PENDING: frozenset({S.OPEN, S.ON_HOLD, S.RESOLVED, S.CLOSED}),
    S.ON_HOLD: frozenset({S.OPEN, S.PENDING, S.RESOLVED, S.CLOSED}),
    # Reopening: a resolved case comes back when the customer writes again or an agent reopens it.
    S.RESOLVED: frozenset({S.OPEN, S.CLOSED}),
    S.CLOSED: frozenset({S.OPEN}),
}


def check_transition(current: CaseStatus, target: CaseStatus) -> None:
    """Raise `Conflict` naming the allowed statuses unless `current -> target` is in the table."""
    allowed = TRANSITIONS[current]
    if target not in allowed:
        names = sorted(status.value for status in allowed)
        raise Conflict(
            f"a {current.value} case cannot become {target.value}; allowed: {', '.join(names)}",
            current=current.value,
            requested=target.value,
            allowed=names,
        )


def pauses_sla(status: CaseStatus) -> bool:
    """Tell whether the SLA clock stops in this status: the case waits on the customer, not on us."""
    return status is CaseStatus.PENDING
