"""Errors the routing engine raises, grouped so the app can map them to HTTP statuses in one place.

A call that raises has changed nothing: every check runs before the first mutation.
"""

from __future__ import annotations

__all__ = [
    "InvalidTransition",
    "ReservationConflict",
    "ReservationExpired",
    "ReservationGone",
    "ReservationNotYours",
    "RoutingError",
    "UnknownAgent",
    "UnknownTask",
    "UnknownWorkflow",
    "WorkflowConfigError",
]


class RoutingError(Exception):
    """Base class of every error the engine raises on purpose."""


class UnknownTask(RoutingError, LookupError):
    """No task with that id is in the engine (never submitted, or already finished)."""


class UnknownAgent(RoutingError, LookupError):
    """No agent with that id is known to the engine."""


class UnknownWorkflow(RoutingError, LookupError):
    """A task names a workflow the loaded rules do not define."""


class InvalidTransition(RoutingError):
    """The task or agent is not in a state that allows this action (completing a task still ringing, say)."""


class ReservationConflict(RoutingError):
    """An offer can no longer be answered this way; the app answers 409 Conflict."""

    def __init__(self, reservation_id: str, message: str) -> None:
        super().__init__(f"reservation {reservation_id}: {message}")
        self.reservation_id = reservation_id


class ReservationExpired(ReservationConflict):
    """The offer's time ran out before the answer arrived."""


class ReservationNotYours(ReservationConflict):
    """The offer belongs to another agent."""


class ReservationGone(ReservationConflict):
    """The offer was already accepted, rejected, timed out or withdrawn (or never existed)."""


class WorkflowConfigError(RoutingError, ValueError):
    """A workflow file is invalid; the message starts with ``file:line:`` so editors can jump to it."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source = source
        self.line = line
        self.detail = message
