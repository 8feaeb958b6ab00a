"""Run a call through its flow, one event at a time, without touching the world.

`step(flow, state, event, context) -> (actions, next_state)` is the whole interface. It reads no clock (the time
is `context.now`), does no I/O and keeps nothing between calls, so the same arguments always give the same
answer; a retried webhook therefore gets the same TwiML when the app replays the step it already served.

How the app drives a call::

    state = CallState.begin(flow, call_sid=sid, caller=from_number)    # POST /twilio/voice
    actions, state = step(flow, state, CallStarted(), context)
    # The lookup protocol: a step that reaches a `lookup` node ends its actions with a `Lookup` and waits in
    # phase "lookup". The app performs it and steps again with the answer, in the same webhook, joining the
    # actions (everything before the `Lookup` is still to be said):
    while actions and isinstance(actions[-1], Lookup):
        answer = await lookups.perform(actions[-1])          # -> LookupResult(key=actions[-1].key, ...)
        more, state = step(flow, state, answer, context)
        actions = actions[:-1] + more
    save(sid, state); carry out StoreVoicemail / Enqueue; return render(actions, base_url)

Later webhooks map Twilio's form to an event with `ivr.twiml.event_from_form` (`Digits`, `Speech`, `NoInput`,
`RecordingDone`, `QueueLeft`, `CallerHungUp`) and step from the stored state. Waiting actions carry
`state.turn` and the webhook URLs repeat it: a webhook whose turn is older than the stored state's is a retry,
answered from the response (or the state and context) kept for that turn, never stepped twice.

An event the current phase does not expect (keys while waiting for a lookup, a stale lookup answer) is not an
error: the step repeats what the call is waiting for. A broken flow (a missing node, a loop that never waits)
ends the call with the flow's error text instead of raising, so no input can crash a live call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from ivr.actions import Action, Enqueue, Gather, Hangup, Lookup, Play, Record, Say, StoreVoicemail
from ivr.digits import accept_digits, digits_from_speech
from ivr.events import (
    CallerHungUp,
    Digits,
    Event,
    LookupResult,
    NoInput,
    QueueLeft,
    RecordingDone,
    Speech,
)
from ivr.models import (
    BranchNode,
    CollectNode,
    Condition,
    EnqueueNode,
    Flow,
    HangupNode,
    LookupNode,
    MenuNode,
    MenuOption,
    Node,
    PlayNode,
    SayNode,
    Text,
    VoicemailNode,
)
from ivr.state import CallContext, CallState, Outcome

__all__ = ["MAX_HOPS", "MAX_LOOKUPS_PER_TURN", "step"]

#: Nodes passed through in one step before the flow is judged to loop without waiting for anyone.
MAX_HOPS = 64
#: Lookups in one webhook before the flow is judged to loop through the app.
MAX_LOOKUPS_PER_TURN = 8

# Twilio's QueueResult values that mean the flow's work is done, and how the call ended.
_QUEUE_ENDINGS: Mapping[str, Outcome] = {
    "bridged": "answered",
    "bridging-in-process": "answered",
    "redirected": "transferred",
    "hangup": "caller_hung_up",
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")

Step = tuple[tuple[Action, ...], CallState]


def step(flow: Flow, state: CallState, event: Event, context: CallContext) -> Step:
    """Return what to do for one event on a call, and the call's next state."""
    out: list[Action] = []
    next_state = _Call(flow, context, out).handle(state, event)
    return tuple(out), next_state


class _Call:
    """One step's worth of work: the flow, the facts and the actions gathered so far."""

    def __init__(self, flow: Flow, context: CallContext, out: list[Action]) -> None:
        self.flow = flow
        self.context = context
        self.out = out

    def handle(self, state: CallState, event: Event) -> CallState:
        if isinstance(event, CallerHungUp):
            if state.ended:
                return state
            return replace(state, phase="ended", outcome="caller_hung_up", lookups=0)
        if state.ended:
            # Nothing more to say; hanging up again is the safe answer to a late or repeated webhook.
            self.out.append(Hangup())
            return state
        if state.phase == "new":
            # Whatever the first webhook carries, it is the call arriving: start the flow.
            language = self.context.language
            if language is None or language not in self.flow.languages:
                language = self.flow.default_language
            return self.enter(replace(state, language=language), state.node)
        node = self.flow.nodes.get(state.node)
        if node is None:
            return self.fail(state)
        match state.phase, node, event:
            case "input", MenuNode(), _:
                return self.answer_menu(state, node, event)
            case "input", CollectNode(), _:
                return self.answer_collect(state, node, event)
            case "lookup", LookupNode(), LookupResult():
                return self.answer_lookup(state, node, event)
            case "recording", VoicemailNode(), RecordingDone():
                return self.recorded(state, node, event)
            case "queue", EnqueueNode(), QueueLeft():
                return self.left_queue(state, node, event)
        return self.repeat(state, node)

    # Walking the flow

    def enter(self, state: CallState, target: str) -> CallState:
        """Pass through nodes from `target` until one waits for someone or the call ends."""
        node_id = target
        for _ in range(MAX_HOPS):
            node = self.flow.nodes.get(node_id)
            if node is None:
                return self.fail(state)
            state = replace(state, node=node_id, attempt=0)
            match node:
                case SayNode():
                    self.out.append(self.say(node.text, state))
                    node_id = node.next
                case PlayNode():
                    self.out.append(self.play(node.audio, state))
                    node_id = node.next
                case BranchNode():
                    node_id = self.choose(node, state)
                case _:
                    return self.wait(state, node)
        return self.fail(state)

    def wait(self, state: CallState, node: Node) -> CallState:
        """Emit what a waiting (or ending) node does on arrival."""
        match node:
            case MenuNode() | CollectNode():
                return self.gather(state, node, lead=None)
            case LookupNode():
                if state.lookups >= MAX_LOOKUPS_PER_TURN:
                    return self.fail(state)
                state = replace(state, phase="lookup", lookups=state.lookups + 1)
                self.out.append(self.lookup(state, node))
                return state
            case EnqueueNode():
                if node.text is not None:
                    self.out.append(self.say(node.text, state))
                state = replace(state, phase="queue", turn=state.turn + 1, lookups=0)
                self.out.append(self.enqueue(state, node))
                return state
            case VoicemailNode():
                self.out.append(self.say(node.prompt, state))
                state = replace(state, phase="recording", turn=state.turn + 1, lookups=0)
                self.out.append(Record(turn=state.turn, max_length=node.max_length))
                return state
            case HangupNode():
                if node.text is not None:
                    self.out.append(self.say(node.text, state))
                return self.end(state, "hangup")
        # Say, play and branch nodes never wait; `enter` handles them.
        return self.fail(state)

    def repeat(self, state: CallState, node: Node) -> CallState:
        """Re-issue what the call is waiting for, for an event that does not belong to this wait."""
        match node:
            case MenuNode() | CollectNode() if state.phase == "input":
                return self.gather(replace(state, turn=state.turn - 1), node, lead=None, attempt=state.attempt)
            case LookupNode() if state.phase == "lookup":
                self.out.append(self.lookup(state, node))
                return state
            case EnqueueNode() if state.phase == "queue":
                self.out.append(self.enqueue(state, node))
                return state
            case VoicemailNode() if state.phase == "recording":
                self.out.append(Record(turn=state.turn, max_length=node.max_length))
                return state
        # A phase that does not fit its node can only come from a state the app edited; end cleanly.
        return self.fail(state)

    def fail(self, state: CallState) -> CallState:
        self.out.append(self.say(self.flow.error_text, state))
        return self.end(state, "error")

    def end(self, state: CallState, outcome: Outcome) -> CallState:
        self.out.append(Hangup())
        node = state.node if state.node in self.flow.nodes else self.flow.start
        return replace(state, node=node, phase="ended", outcome=outcome, attempt=0, lookups=0)

    # Answers

    def answer_menu(self, state: CallState, node: MenuNode, event: Event) -> CallState:
        heard = _heard(event)
        if heard is None:
            return self.repeat(state, node)
        if not heard:
            return self.retry(state, node, node.retry.no_input)
        option = self.match_option(node, heard, spoken=isinstance(event, Speech), language=state.language)
        if option is None:
            return self.retry(state, node, node.retry.invalid)
        if option.language is not None and option.language in self.flow.languages:
            state = replace(state, language=option.language)
        return self.enter(state, option.goto)

    def match_option(self, node: MenuNode, heard: str, *, spoken: bool, language: str) -> MenuOption | None:
        if not spoken:
            return next((o for o in node.options if o.digits == heard), None)
        said = heard.casefold()
        for option in node.options:
            # Words of the call's language first, then any language: a caller may answer in English to a
            # Chinese menu, and the words are distinct enough that this helps more than it confuses.
            words = option.words.get(language, ()) or ()
            if any(_says(said, word) for word in words):
                return option
        for option in node.options:
            if any(_says(said, word) for words in option.words.values() for word in words):
                return option
        # "One" and "press one" mean key 1.
        spoken_digits = digits_from_speech(heard)
        return next((o for o in node.options if spoken_digits and o.digits == spoken_digits), None)

    def answer_collect(self, state: CallState, node: CollectNode, event: Event) -> CallState:
        heard = _heard(event)
        if heard is None:
            return self.repeat(state, node)
        digits = digits_from_speech(heard) if isinstance(event, Speech) else heard.rstrip("#*")
        if not digits and not heard.strip():
            return self.retry(state, node, node.retry.no_input)
        value = accept_digits(node, digits, self.flow.checksums)
        if value is None:
            return self.retry(state, node, node.retry.invalid)
        variables = {**state.variables, node.save_as: value}
        return self.enter(replace(state, variables=variables), node.next)

    def retry(self, state: CallState, node: MenuNode | CollectNode, text: Text | None) -> CallState:
        attempt = state.attempt + 1
        if attempt >= node.retry.max_attempts:
            if node.retry.failure is not None:
                self.out.append(self.say(node.retry.failure, state))
            return self.enter(state, node.retry.on_failure)
        lead = None if text is None else self.say(text, state)
        return self.gather(state, node, lead=lead, attempt=attempt)

    def answer_lookup(self, state: CallState, node: LookupNode, event: LookupResult) -> CallState:
        if event.key != _lookup_key(state):
            return self.repeat(state, node)
        state = replace(state, phase="input")
        if event.outcome == "ok":
            prefix = f"{node.save_as}." if node.save_as else ""
            answers = {f"{prefix}{name}": str(value) for name, value in sorted(event.data.items())}
            return self.enter(replace(state, variables={**state.variables, **answers}), node.next)
        if event.outcome == "not_found" and node.not_found is not None:
            return self.enter(state, node.not_found)
        return self.enter(state, node.error)

    def recorded(self, state: CallState, node: VoicemailNode, event: RecordingDone) -> CallState:
        # Twilio posts an empty or zero-length recording when the caller hangs up at the beep.
        left_message = bool(event.url) and event.duration > 0
        if left_message:
            self.out.append(StoreVoicemail(event.url, event.duration, state.language))
        if node.goodbye is not None:
            self.out.append(self.say(node.goodbye, state))
        return self.end(state, "voicemail" if left_message else "hangup")

    def left_queue(self, state: CallState, node: EnqueueNode, event: QueueLeft) -> CallState:
        ending = _QUEUE_ENDINGS.get(event.result)
        if ending is not None:
            return replace(state, phase="ended", outcome=ending)
        if node.on_exit is None:
            return self.end(state, "hangup")
        return self.enter(replace(state, phase="input"), node.on_exit)

    # Conditions

    def choose(self, node: BranchNode, state: CallState) -> str:
        for rule in node.rules:
            if self.holds(rule.when, state):
                return rule.goto
        return node.otherwise

    def holds(self, condition: Condition, state: CallState) -> bool:
        facts = self.context
        if condition.open is not None and not self.is_open(condition.open):
            return False
        if condition.closed is not None and self.is_open(condition.closed):
            return False
        if condition.tiers is not None and facts.tier not in condition.tiers:
            return False
        if condition.languages is not None and state.language not in condition.languages:
            return False
        return condition.known is None or condition.known == facts.known

    def is_open(self, name: str) -> bool:
        if name in self.context.calendars:
            return self.context.calendars[name]
        calendar = self.flow.calendars.get(name)
        # An unknown calendar counts as closed: voicemail is a safer guess than a queue nobody staffs.
        return calendar is not None and calendar.is_open(self.context.now)

    # Building actions

    def say(self, text: Text, state: CallState) -> Say:
        voice = self.flow.voice(state.language)
        words = text.in_language(state.language, self.flow.default_language)
        return Say(self.fill(words, state), voice.voice, voice.say_language)

    def play(self, audio: Text, state: CallState) -> Play:
        return Play(audio.in_language(state.language, self.flow.default_language))

    def fill(self, words: str, state: CallState) -> str:
        values = {
            **state.variables,
            "customer_name": self.context.customer_name or "",
            "caller": state.caller or "",
        }
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), words)

    def gather(self, state: CallState, node: MenuNode | CollectNode, lead: Say | None, attempt: int = 0) -> CallState:
        state = replace(state, phase="input", turn=state.turn + 1, attempt=attempt, lookups=0)
        prompts = (*(() if lead is None else (lead,)), self.say(node.prompt, state))
        speech_language = self.flow.voice(state.language).speech_language
        if isinstance(node, MenuNode):
            keys = [o.digits for o in node.options if o.digits is not None]
            hints = tuple(dict.fromkeys(w for o in node.options for w in o.words.get(state.language, ())))
            # Menus whose keys are all one long answer at the first key press: no "#" needed.
            lengths = {len(k) for k in keys}
            same_length = len(lengths) == 1
            self.out.append(
                Gather(
                    prompts=prompts,
                    turn=state.turn,
                    speech=node.speech,
                    speech_language=speech_language,
                    hints=hints,
                    num_digits=min(lengths) if same_length else None,
                    finish_on_key="" if same_length else "#",
                    timeout=node.timeout,
                )
            )
        else:
            fixed = node.min_length == node.max_length
            self.out.append(
                Gather(
                    prompts=prompts,
                    turn=state.turn,
                    speech=node.speech,
                    speech_language=speech_language,
                    num_digits=node.max_length if fixed else None,
                    finish_on_key=node.finish_on_key,
                    timeout=node.timeout,
                )
            )
        return state

    def lookup(self, state: CallState, node: LookupNode) -> Lookup:
        case_number = None
        if node.kind == "case_status" and node.case_number_from is not None:
            case_number = state.variables.get(node.case_number_from)
        return Lookup(
            kind=node.kind,
            key=_lookup_key(state),
            language=state.language,
            caller=state.caller,
            case_number=case_number,
            queue=node.queue,
        )

    def enqueue(self, state: CallState, node: EnqueueNode) -> Enqueue:
        return Enqueue(
            queue=node.queue,
            turn=state.turn,
            skills=node.skills,
            priority=node.priority,
            language=node.language or state.language,
        )


def _heard(event: Event) -> str | None:
    """Return what the caller gave to a `Gather` ("" for nothing), or None for an event that is no answer."""
    match event:
        case Digits():
            return event.digits.strip()
        case Speech():
            return event.text.strip()
        case NoInput():
            return ""
    return None


def _says(said: str, word: str) -> bool:
    # Latin words must stand alone ("no" is not in "know"); Chinese has no spaces, so any occurrence counts.
    if word.isascii():
        return re.search(rf"\b{re.escape(word)}\b", said) is not None
    return word in said


def _lookup_key(state: CallState) -> str:
    """Name a lookup so that retries of the same webhook ask for the same thing under the same key."""
    return f"{state.call_sid}/{state.turn}/{state.node}/{state.lookups}"
