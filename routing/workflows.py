"""Workflows: which agents qualify for a task as its wait grows, and what happens when nobody answers.

A workflow is an ordered list of steps. Each step names who qualifies (minimum skill levels, a team, a language,
or an explicit list of agents, possibly read from a task attribute such as ``last_agent`` for sticky routing) and
a timeout measured from the task's creation. When the wait passes a step's timeout the next step applies; after
the last one the workflow's fallback does (voicemail, a callback request, or staying queued).

Rules come from YAML::

    workflows:
      billing:
        steps:
          - name: last agent
            agents_from: last_agent
            timeout: 20
          - name: experts
            skills: {billing: 7}
            timeout: 60
          - name: anyone in billing
            team: billing
            timeout: 300
        fallback: voicemail        # voicemail | callback | queue
    queues:
      billing:
        workflow: billing
        reservation_timeout: 15    # optional, seconds an offer rings

Every mistake is reported as ``file:line: message`` (:class:`routing.errors.WorkflowConfigError`), using the
positions YAML's composer keeps on each node.

:meth:`RoutingRules.plan` turns a task and its workflow into a :class:`RoutePlan`: concrete requirements with
absolute deadlines. The plan is plain data, so an engine (or a Lua script) never needs the YAML again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from routing.errors import UnknownWorkflow, WorkflowConfigError
from routing.matching import Requirement, merge_skills
from routing.models import MAX_SKILL_LEVEL, Task

__all__ = [
    "TRANSFER_SECONDS",
    "TRANSFER_TO",
    "FallbackAction",
    "PlannedStep",
    "QueueRules",
    "RoutePlan",
    "RoutingRules",
    "Step",
    "Workflow",
    "load_rules",
    "parse_rules",
]


class FallbackAction(StrEnum):
    """What happens to a task after its workflow's last step times out (or when nobody could ever serve it)."""

    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    QUEUE = "queue"


@dataclass(frozen=True, slots=True)
class Step:
    """One workflow step: who qualifies, until ``timeout`` seconds after the task's creation."""

    name: str
    skills: Mapping[str, int] = field(default_factory=dict)
    team: str | None = None
    language: str | None = None
    agents: frozenset[str] | None = None
    agents_from: str | None = None
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Workflow:
    """Ordered steps and the fallback after the last one."""

    name: str
    steps: tuple[Step, ...]
    fallback: FallbackAction = FallbackAction.QUEUE


@dataclass(frozen=True, slots=True)
class QueueRules:
    """A queue's default workflow and offer timeout (``None``: the engine's default)."""

    name: str
    workflow: str
    reservation_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """A step made concrete for one task: its requirement and the absolute time it ends (``None``: never)."""

    name: str
    requirement: Requirement
    until: float | None


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """Everything the engine needs to route one task through its workflow."""

    steps: tuple[PlannedStep, ...]
    fallback: FallbackAction
    reservation_timeout: float | None = None

    def step_at(self, now: float) -> int:
        """Return the index of the step in force at ``now``, or ``len(steps)`` once the last one has ended."""
        for index, step in enumerate(self.steps):
            if step.until is None or now < step.until:
                return index
        return len(self.steps)


# Sticky routing makes one requirement per remembered agent; past this many the cache starts again.
_INTERN_LIMIT = 100_000
#: The task attribute naming the one agent a transferred task is offered to first (a warm hand-over).
TRANSFER_TO = "transfer_to"
#: How long, from the task's creation, a transfer waits for its named agent before the workflow takes over.
TRANSFER_SECONDS = 60.0

_DEFAULT_WORKFLOW = Workflow(name="default", steps=(Step(name="default"),))


@dataclass(frozen=True, slots=True)
class RoutingRules:
    """The loaded workflows and queues.

    A queue the rules do not mention routes on the task's own requirements and stays queued, so an empty
    ``RoutingRules()`` is a usable default.
    """

    workflows: Mapping[str, Workflow] = field(default_factory=dict)
    queues: Mapping[str, QueueRules] = field(default_factory=dict)
    # Equal requirements share one object: a backlog of half a million tasks then holds a few hundred
    # requirements instead of a million and a half (each with its own frozenset), and pools compare by identity
    # first.
    _interned: dict[Requirement, Requirement] = field(default_factory=dict, compare=False, repr=False)
    # Plan shapes by (workflow override, queue, channel, language, required skills): a decision then plans a
    # task without merging skills or building and interning requirements again.
    _shapes: dict[tuple[object, ...], _PlanShape] = field(default_factory=dict, compare=False, repr=False)

    def _intern(self, requirement: Requirement) -> Requirement:
        interned = self._interned
        found = interned.get(requirement)
        if found is not None:
            return found
        if len(interned) >= _INTERN_LIMIT:
            interned.clear()
        interned[requirement] = requirement
        return requirement

    def workflow_for(self, task: Task) -> Workflow:
        """Return the workflow ``task`` follows: its own override, else its queue's, else the default."""
        if task.workflow is not None:
            found = self.workflows.get(task.workflow)
            if found is None:
                raise UnknownWorkflow(f"task {task.id!r} names unknown workflow {task.workflow!r}")
            return found
        queue = self.queues.get(task.queue)
        if queue is None:
            return _DEFAULT_WORKFLOW
        return self.workflows[queue.workflow]

    def plan(self, task: Task) -> RoutePlan:
        """Make the task's workflow concrete: merged requirements and absolute step deadlines.

        A step that reads its agents from a task attribute the task lacks (no previous agent, say) is skipped,
        because waiting for nobody would only delay the customer. If that leaves no step, a task meant to stay
        queued routes on its own requirements, and any other goes to its fallback at once. A transferred task
        (attribute `TRANSFER_TO`) is first offered only to its named agent, for `TRANSFER_SECONDS`.
        """
        workflow = self.workflow_for(task)
        target = task.attributes.get(TRANSFER_TO)
        transfer = target if isinstance(target, str) and target else None
        if transfer is not None or any(step.agents_from is not None for step in workflow.steps):
            # Attribute-dependent plans differ task by task: not worth keeping.
            shape = self._shape(task, workflow, transfer)
        else:
            # Tasks of one queue and channel with the same needs share a shape; only the deadlines move.
            key = (task.workflow, task.queue, task.channel, task.language, tuple(task.required_skills.items()))
            shapes = self._shapes
            found = shapes.get(key)
            if found is None:
                if len(shapes) >= _INTERN_LIMIT:
                    shapes.clear()
                found = shapes[key] = self._shape(task, workflow, None)
            shape = found
        created = task.created_at
        steps = tuple(
            PlannedStep(name, requirement, None if timeout is None else created + timeout)
            for name, requirement, timeout in shape.steps
        )
        return RoutePlan(steps=steps, fallback=shape.fallback, reservation_timeout=shape.reservation_timeout)

    def _shape(self, task: Task, workflow: Workflow, transfer: str | None) -> _PlanShape:
        """Plan ``task`` with deadlines as seconds from its creation."""
        steps: list[tuple[str, Requirement, float | None]] = []
        for step in workflow.steps:
            agents = _step_agents(step, task)
            if agents is not None and not agents:
                continue
            languages = frozenset(lang for lang in (task.language, step.language) if lang)
            requirement = self._intern(
                Requirement(
                    channel=task.channel,
                    skills=merge_skills(step.skills, task.required_skills),
                    team=step.team,
                    languages=languages,
                    agents=agents,
                )
            )
            steps.append((step.name, requirement, step.timeout))
        if not steps and workflow.fallback is FallbackAction.QUEUE:
            # Every step was skipped but the task is meant to stay queued: route on its own requirements.
            own = self._intern(
                Requirement(
                    channel=task.channel,
                    skills=merge_skills(task.required_skills),
                    languages=frozenset((task.language,)) if task.language else frozenset(),
                )
            )
            steps.append(("task requirements", own, None))
        if transfer is not None:
            # A transfer to a named agent asks for nobody else at first, whatever the workflow wants; if that
            # agent does not take it in time, the queue's workflow routes it as it would any other task.
            only = self._intern(Requirement(channel=task.channel, agents=frozenset((transfer,))))
            steps.insert(0, ("transfer", only, TRANSFER_SECONDS))
        queue = self.queues.get(task.queue)
        timeout = queue.reservation_timeout if queue is not None else None
        return _PlanShape(tuple(steps), workflow.fallback, timeout)


@dataclass(frozen=True, slots=True)
class _PlanShape:
    """A plan with each step's end as seconds after the task's creation (``None``: never)."""

    steps: tuple[tuple[str, Requirement, float | None], ...]
    fallback: FallbackAction
    reservation_timeout: float | None


def _step_agents(step: Step, task: Task) -> frozenset[str] | None:
    if step.agents is None and step.agents_from is None:
        return None
    agents: set[str] = set(step.agents or ())
    if step.agents_from is not None:
        value = task.attributes.get(step.agents_from)
        if isinstance(value, str) and value:
            agents.add(value)
        elif isinstance(value, list | tuple | set | frozenset):
            agents.update(str(item) for item in value if item)
    return frozenset(agents)


def load_rules(
    path: str | Path,
    known_skills: Collection[str] | None = None,
    known_queues: Collection[str] | None = None,
) -> RoutingRules:
    """Read and validate a workflow file; unknown skills or queues are errors when the known sets are given."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkflowConfigError(source, 0, f"cannot read: {exc.strerror or exc}") from exc
    return parse_rules(text, source, known_skills=known_skills, known_queues=known_queues)


def parse_rules(
    text: str,
    source: str = "<string>",
    known_skills: Collection[str] | None = None,
    known_queues: Collection[str] | None = None,
) -> RoutingRules:
    """Validate workflow YAML given as text; ``source`` names it in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else 0
        raise WorkflowConfigError(source, line, f"not valid YAML: {exc.problem}") from exc
    return _Parser(source, known_skills, known_queues).rules(root)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Parser:
    """Walk the composed YAML tree, keeping each node's line for error messages."""

    def __init__(self, source: str, known_skills: Collection[str] | None, known_queues: Collection[str] | None) -> None:
        self.source = source
        self.known_skills = known_skills
        self.known_queues = known_queues
        self.constructor = SafeConstructor()

    def error(self, node: Node, message: str) -> WorkflowConfigError:
        return WorkflowConfigError(self.source, _line(node), message)

    def mapping(self, node: Node, what: str, allowed: Collection[str] | None = None) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            raise self.error(node, f"{what} must be a mapping")
        items: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, str):
                raise self.error(key_node, f"{what}: keys must be text, not {key!r}")
            if key in items:
                raise self.error(key_node, f"{what}: {key!r} is given twice")
            if allowed is not None and key not in allowed:
                raise self.error(key_node, f"{what}: unknown key {key!r} (expected one of {', '.join(allowed)})")
            items[key] = value_node
        return items

    def scalar(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            raise self.error(node, "expected a single value")
        try:
            return self.constructor.construct_object(node)
        except ConstructorError as exc:
            raise self.error(node, f"bad value: {exc.problem}") from exc

    def text(self, node: Node, what: str) -> str:
        value = self.scalar(node)
        if not isinstance(value, str) or not value.strip():
            raise self.error(node, f"{what} must be non-empty text")
        return value

    def seconds(self, node: Node, what: str) -> float:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.error(node, f"{what} must be a positive number of seconds, not {value!r}")
        return float(value)

    def rules(self, root: Node | None) -> RoutingRules:
        if root is None:
            return RoutingRules()
        top = self.mapping(root, "the file", allowed=("workflows", "queues"))
        workflows: dict[str, Workflow] = {}
        if "workflows" in top:
            for name, node in self.mapping(top["workflows"], "workflows").items():
                workflows[name] = self.workflow(name, node)
        queues: dict[str, QueueRules] = {}
        if "queues" in top:
            for key_node, value_node in self._pairs(top["queues"], "queues"):
                name = self.text(key_node, "a queue name")
                if self.known_queues is not None and name not in self.known_queues:
                    raise self.error(key_node, f"unknown queue {name!r}")
                queues[name] = self.queue(name, value_node, workflows)
        return RoutingRules(workflows=workflows, queues=queues)

    def _pairs(self, node: Node, what: str) -> list[tuple[Node, Node]]:
        self.mapping(node, what)  # validates shape and duplicate keys
        assert isinstance(node, MappingNode)
        return list(node.value)

    def queue(self, name: str, node: Node, workflows: Mapping[str, Workflow]) -> QueueRules:
        fields = self.mapping(node, f"queue {name!r}", allowed=("workflow", "reservation_timeout"))
        if "workflow" not in fields:
            raise self.error(node, f"queue {name!r} needs a workflow")
        workflow = self.text(fields["workflow"], "workflow")
        if workflow not in workflows:
            raise self.error(fields["workflow"], f"queue {name!r} uses unknown workflow {workflow!r}")
        timeout = None
        if "reservation_timeout" in fields:
            timeout = self.seconds(fields["reservation_timeout"], "reservation_timeout")
        return QueueRules(name=name, workflow=workflow, reservation_timeout=timeout)

    def workflow(self, name: str, node: Node) -> Workflow:
        fields = self.mapping(node, f"workflow {name!r}", allowed=("steps", "fallback"))
        steps_node = fields.get("steps")
        if not isinstance(steps_node, SequenceNode) or not steps_node.value:
            raise self.error(steps_node or node, f"workflow {name!r} needs a non-empty list of steps")
        steps: list[Step] = []
        previous: float | None = None
        for index, step_node in enumerate(steps_node.value):
            step = self.step(name, index, step_node)
            is_last = index == len(steps_node.value) - 1
            if step.timeout is None and not is_last:
                raise self.error(step_node, f"workflow {name!r}: only the last step may have no timeout")
            if step.timeout is not None and previous is not None and step.timeout <= previous:
                raise self.error(
                    step_node,
                    f"workflow {name!r}: step timeouts count from the task's creation and must grow "
                    f"({step.timeout:g} s after {previous:g} s)",
                )
            previous = step.timeout
            steps.append(step)
        fallback = FallbackAction.QUEUE
        if "fallback" in fields:
            value = self.scalar(fields["fallback"])
            try:
                fallback = FallbackAction(value)
            except ValueError:
                choices = ", ".join(action.value for action in FallbackAction)
                raise self.error(fields["fallback"], f"fallback must be one of {choices}, not {value!r}") from None
        return Workflow(name=name, steps=tuple(steps), fallback=fallback)

    def step(self, workflow: str, index: int, node: Node) -> Step:
        what = f"workflow {workflow!r} step {index + 1}"
        fields = self.mapping(
            node, what, allowed=("name", "skills", "team", "language", "agents", "agents_from", "timeout")
        )
        name = self.text(fields["name"], "name") if "name" in fields else f"step {index + 1}"
        skills: dict[str, int] = {}
        if "skills" in fields:
            for key_node, level_node in self._pairs(fields["skills"], f"{what} skills"):
                skill = self.text(key_node, "a skill name")
                if self.known_skills is not None and skill not in self.known_skills:
                    raise self.error(key_node, f"unknown skill {skill!r}")
                level = self.scalar(level_node)
                if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= MAX_SKILL_LEVEL:
                    raise self.error(level_node, f"skill {skill!r} level must be 1-{MAX_SKILL_LEVEL}, not {level!r}")
                skills[skill] = level
        agents: frozenset[str] | None = None
        if "agents" in fields:
            agents_node = fields["agents"]
            if not isinstance(agents_node, SequenceNode) or not agents_node.value:
                raise self.error(agents_node, f"{what}: agents must be a non-empty list of agent ids")
            agents = frozenset(str(self.scalar(item)) for item in agents_node.value)
        team = self.text(fields["team"], "team") if "team" in fields else None
        language = self.text(fields["language"], "language") if "language" in fields else None
        agents_from = self.text(fields["agents_from"], "agents_from") if "agents_from" in fields else None
        timeout = self.seconds(fields["timeout"], "timeout") if "timeout" in fields else None
        return Step(
            name=name,
            skills=skills,
            team=team,
            language=language,
            agents=agents,
            agents_from=agents_from,
            timeout=timeout,
        )
