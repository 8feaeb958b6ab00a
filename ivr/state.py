"""Where a call is in its flow, and what the app knows about the caller.

`CallState` is what the app keeps server-side per CallSid between webhooks: small, immutable and
JSON-serialisable, so any process can serve the next webhook. `CallContext` is what the app looks up fresh for
each webhook (the caller's customer record, the time) and never stores in the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast, get_args

from ivr.models import TIERS, Flow, Tier

__all__ = ["CallContext", "CallState", "Outcome", "Phase", "StateError"]

#: What the call is waiting for: "new" (not started), "input" (a `Gather`), "lookup" (the app's answer),
#: "recording" (a voicemail), "queue" (an agent) or nothing any more ("ended").
Phase = Literal["new", "input", "lookup", "recording", "queue", "ended"]
#: How an ended call ended.
Outcome = Literal["answered", "transferred", "voicemail", "hangup", "caller_hung_up", "error"]


class StateError(ValueError):
    """A stored call state that cannot be read back."""


@dataclass(frozen=True)
class CallState:
    """One call's place in its flow."""

    call_sid: str
    caller: str | None
    #: Id of the current node; always a node of the flow, even once the call has ended.
    node: str
    phase: Phase = "new"
    #: Counts the waits for Twilio; webhook URLs repeat it so a retried webhook is recognised.
    turn: int = 0
    #: Failed attempts at the current menu or digit prompt.
    attempt: int = 0
    language: str = ""
    #: Collected digits and lookup answers, read by texts as `{name}`.
    variables: Mapping[str, str] = field(default_factory=dict)
    outcome: Outcome | None = None
    #: Lookups since the call last waited for Twilio; a bound on it stops a flow asking the app forever.
    lookups: int = 0

    @classmethod
    def begin(cls, flow: Flow, *, call_sid: str, caller: str | None) -> CallState:
        """Return the state of a call that has not heard anything yet."""
        return cls(call_sid=call_sid, caller=caller, node=flow.start, language=flow.default_language)

    @property
    def ended(self) -> bool:
        """Tell whether the flow is done with this call."""
        return self.phase == "ended"

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict that `from_json` reads back."""
        return {
            "call_sid": self.call_sid,
            "caller": self.caller,
            "node": self.node,
            "phase": self.phase,
            "turn": self.turn,
            "attempt": self.attempt,
            "language": self.language,
            "variables": dict(sorted(self.variables.items())),
            "outcome": self.outcome,
            "lookups": self.lookups,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallState:
        """Read a state written by `to_json`, refusing anything malformed."""
        try:
            phase = data["phase"]
            outcome = data.get("outcome")
            variables = data.get("variables") or {}
            ints = (data.get("turn", 0), data.get("attempt", 0), data.get("lookups", 0))
            if phase not in get_args(Phase) or (outcome is not None and outcome not in get_args(Outcome)):
                raise StateError(f"unknown phase {phase!r} or outcome {outcome!r}")
            if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in ints):
                raise StateError("turn, attempt and lookups must be whole numbers")
            if not isinstance(variables, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
            ):
                raise StateError("variables must map strings to strings")
            caller = data.get("caller")
            if caller is not None and not isinstance(caller, str):
                raise StateError("caller must be a string")
            return cls(
                call_sid=str(data["call_sid"]),
                caller=caller,
                node=str(data["node"]),
                phase=cast(Phase, phase),
                turn=ints[0],
                attempt=ints[1],
                language=str(data.get("language", "")),
                variables=dict(variables),
                outcome=cast("Outcome | None", outcome),
                lookups=ints[2],
            )
        except (KeyError, TypeError) as exc:
            raise StateError(f"not a call state: {exc}") from exc


@dataclass(frozen=True)
class CallContext:
    """Facts about the caller and the moment, supplied by the app for each step."""

    #: The time the webhook arrived (timezone-aware); business-hours conditions are judged at it.
    now: datetime
    known: bool = False
    customer_name: str | None = None
    tier: Tier | None = None
    #: The customer's preferred language; used when the call starts, if the flow speaks it.
    language: str | None = None
    #: Calendar name -> open, overriding the flow's calendars (a supervisor closing the lines early).
    calendars: Mapping[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Business calendars compare instants; a naive time would silently mean the server's zone.
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("CallContext.now must be timezone-aware")
        if self.tier is not None and self.tier not in TIERS:
            raise ValueError(f"unknown tier {self.tier!r}")
