"""Interactive voice response: flows in YAML, a pure interpreter and TwiML rendering.

The modules, in the order a call meets them:

- `ivr.models`: what a flow is made of (nodes, texts per language, voices, conditions).
- `ivr.loader`: YAML -> `Flow`, with file:line errors. `ivr.check`: problems in how a flow fits together.
- `ivr.state`, `ivr.events`, `ivr.actions`: a call's stored state, what happens to it, what to do about it.
- `ivr.interpreter`: `step(flow, state, event, context) -> (actions, state)`, and the lookup protocol.
- `ivr.twiml`: actions -> TwiML. `ivr.graph`: Mermaid and DOT. `ivr.simulator` and `ivr.cli`: the terminal.

The core names are re-exported here; `ivr.twiml` is not, so the interpreter can be used without Twilio's library.
"""

from ivr.actions import Action, Enqueue, Gather, Hangup, Lookup, Play, Record, Say, StoreVoicemail
from ivr.check import Problem, check_flow
from ivr.events import (
    CallerHungUp,
    CallStarted,
    Digits,
    Event,
    LookupResult,
    NoInput,
    QueueLeft,
    RecordingDone,
    Speech,
)
from ivr.interpreter import step
from ivr.loader import LoadError, load_flow, parse_flow
from ivr.models import Flow
from ivr.state import CallContext, CallState

__all__ = [
    "Action",
    "CallContext",
    "CallStarted",
    "CallState",
    "CallerHungUp",
    "Digits",
    "Enqueue",
    "Event",
    "Flow",
    "Gather",
    "Hangup",
    "LoadError",
    "Lookup",
    "LookupResult",
    "NoInput",
    "Play",
    "Problem",
    "QueueLeft",
    "Record",
    "RecordingDone",
    "Say",
    "Speech",
    "StoreVoicemail",
    "check_flow",
    "load_flow",
    "parse_flow",
    "step",
]
