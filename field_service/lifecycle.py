"""The visit lifecycle's rules: which status may follow which, who may move a job, what may be recorded when.

Pure: statuses are their string values (``WorkOrderStatus`` is a ``StrEnum``, so its members compare equal), which
keeps this module free of the tables. The service (contact_center.services.field_visits) applies the verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from field_service.problem import Location
from field_service.travel import TravelMatrix

__all__ = [
    "CLOSED",
    "NEXT",
    "SAME_SHIFT",
    "Arrival",
    "TransitionRefused",
    "check_recording",
    "check_transition",
    "eta",
    "may_move",
    "previous_stop",
]

#: The statuses a technician may move a job to from each status; a job leaves the list only by being closed.
NEXT: Mapping[str, frozenset[str]] = {
    "scheduled": frozenset({"en_route"}),
    "dispatched": frozenset({"en_route"}),
    "en_route": frozenset({"on_site", "cannot_complete"}),
    "on_site": frozenset({"completed", "cannot_complete"}),
}
CLOSED = frozenset({"completed", "cannot_complete"})
# Parts and meter readings are taken at the asset; notes and photos may come on the way too.
_RECORDED_ON_SITE = frozenset({"parts", "reading"})
_OPEN = frozenset({"scheduled", "dispatched", "en_route", "on_site"})
#: An arrival longer ago than this was on an earlier shift: the technician has been home since.
SAME_SHIFT = timedelta(hours=12)


class TransitionRefused(ValueError):
    """The job cannot take this step now (wrong order, missing reason, closed already); the message says why."""


@dataclass(frozen=True)
class Arrival:
    """A technician reaching a job's site."""

    at: datetime
    site: Location


def check_transition(current: str, target: str, *, reason: str = "") -> None:
    """Raise TransitionRefused unless a job in ``current`` may move to ``target`` (with a reason when required)."""
    if current == target:
        raise TransitionRefused(f"the job is {_words(current)} already")
    if current in CLOSED:
        raise TransitionRefused(f"the job is closed ({_words(current)})")
    allowed = NEXT.get(current, frozenset())
    if target not in allowed:
        if not allowed:
            raise TransitionRefused(f"a job that is {_words(current)} is not on anyone's route yet")
        steps = " or ".join(sorted(_words(s) for s in allowed))
        raise TransitionRefused(f"a job that is {_words(current)} can go {steps} next, not {_words(target)}")
    if target == "cannot_complete" and not reason.strip():
        raise TransitionRefused("say why the job cannot be completed")


def check_recording(status: str, what: str) -> None:
    """Raise TransitionRefused unless ``what`` (parts, reading, note, photo) may be recorded on a job in ``status``."""
    if status in CLOSED:
        raise TransitionRefused(f"the job is closed ({_words(status)}); nothing more can be recorded on it")
    if status not in _OPEN:
        raise TransitionRefused(f"a job that is {_words(status)} is not on anyone's route yet")
    if what in _RECORDED_ON_SITE and status != "on_site":
        raise TransitionRefused(f"record the {what} once on site; the job is {_words(status)}")


def may_move(assigned: str | None, technician: str | None, *, supervisor: bool) -> bool:
    """Return whether someone may work a job: a supervisor always, a technician only on their own job."""
    return supervisor or (technician is not None and assigned == technician)


def previous_stop(arrivals: Sequence[Arrival], home: Location, now: datetime) -> Location:
    """Return where a technician sets off from: the latest site reached this shift, else their home base."""
    recent = [a for a in arrivals if now - SAME_SHIFT <= a.at <= now]
    return max(recent, key=lambda a: a.at).site if recent else home


def eta(now: datetime, origin: Location, site: Location, travel: TravelMatrix) -> datetime:
    """Return when a technician leaving ``origin`` now reaches ``site``."""
    seconds = travel.seconds([origin, site])[0][1]
    return now + timedelta(seconds=seconds)


def _words(status: str) -> str:
    return status.replace("_", " ")
