"""Twilio's call and message statuses in order, so a late or repeated callback never moves anything backwards.

Twilio sends status callbacks over separate HTTP requests that can arrive out of order or more than once; a
"ringing" that arrives after "completed" must change nothing.
"""

from __future__ import annotations

__all__ = [
    "FINAL_CALL_STATUSES",
    "FINAL_MESSAGE_STATUSES",
    "call_status_advances",
    "message_status_advances",
]

_CALL_ORDER = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3, "answered": 3}
#: CallStatus values after which nobody is on the line.
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})

_MESSAGE_ORDER = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "receiving": 3,
    "received": 4,
    "delivered": 4,
    "read": 5,
}
#: Message statuses nothing can follow: the message is gone (or will never go).
FINAL_MESSAGE_STATUSES = frozenset({"failed", "undelivered", "canceled"})


def call_status_advances(current: str | None, new: str) -> bool:
    """Tell whether a call whose status is `current` may take the status `new`."""
    if current is None:
        return True
    if current in FINAL_CALL_STATUSES:
        return False
    if new in FINAL_CALL_STATUSES:
        return True
    return _CALL_ORDER.get(new, -1) > _CALL_ORDER.get(current, -1)


def message_status_advances(current: str | None, new: str) -> bool:
    """Tell whether a message whose status is `current` may take the status `new`.

    queued < sending < sent < delivered < read; failed and undelivered end it, and can only follow a message
    not yet delivered (a delivered message cannot fail afterwards).
    """
    if current is None:
        return True
    if current in FINAL_MESSAGE_STATUSES:
        return False
    if new in FINAL_MESSAGE_STATUSES:
        return _MESSAGE_ORDER.get(current, -1) < _MESSAGE_ORDER["delivered"]
    return _MESSAGE_ORDER.get(new, -1) > _MESSAGE_ORDER.get(current, -1)
