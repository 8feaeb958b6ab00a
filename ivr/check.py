"""Judge a loaded flow before it takes calls: broken links, dead ends, endless loops, gaps in translation.

The loader refuses what cannot be read at all; everything here is about how the parts fit, so all problems are
listed at once, each with the file and line to fix. The app runs `check_flow` when it loads a flow and refuses a
flow with problems; `contact-center ivr check` does the same in a terminal.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

from ivr.models import (
    BranchNode,
    CollectNode,
    EnqueueNode,
    Flow,
    HangupNode,
    LookupNode,
    MenuNode,
    Node,
    PlayNode,
    SayNode,
    VoicemailNode,
    node_targets,
)

__all__ = ["Problem", "check_flow"]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a flow, where it was written, and a short code naming the kind of problem."""

    file: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message} [{self.code}]"


def check_flow(
    flow: Flow, *, skills: Collection[str] | None = None, queues: Collection[str] | None = None
) -> list[Problem]:
    """List every problem in a flow, by line; `skills` and `queues` are the known names (None: not checked)."""
    checker = _Checker(flow)
    checker.targets()
    checker.reachability()
    checker.loops()
    checker.translations()
    checker.references(skills, queues)
    return sorted(set(checker.problems))


# Nodes where the caller is asked for something, so a loop through one of them advances with the caller.
_WAITS_FOR_CALLER = (MenuNode, CollectNode, VoicemailNode, EnqueueNode)
_ENDS_CALL = (HangupNode, VoicemailNode, EnqueueNode)


class _Checker:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.problems: list[Problem] = []
        self.edges: dict[str, list[str]] = {
            node_id: [t for _, t in node_targets(node) if t in flow.nodes] for node_id, node in flow.nodes.items()
        }

    def report(self, code: str, node_id: str, path: str | None, message: str) -> None:
        source = self.flow.source
        line = source.line(node_id, path) if node_id else source.top.get(path or "", 1)
        self.problems.append(Problem(source.file, line, code, message))

    def targets(self) -> None:
        if self.flow.start not in self.flow.nodes:
            self.report("dangling-target", "", "start", f"start node {self.flow.start!r} does not exist")
        for node_id, node in self.flow.nodes.items():
            for path, target in node_targets(node):
                if target not in self.flow.nodes:
                    self.report(
                        "dangling-target", node_id, path, f"node {node_id!r} goes to {target!r}, which does not exist"
                    )

    def reachability(self) -> None:
        if self.flow.start not in self.flow.nodes:
            return
        seen = _reach(self.flow.start, self.edges)
        for node_id in self.flow.nodes:
            if node_id not in seen:
                self.report("unreachable", node_id, None, f"node {node_id!r} cannot be reached from the start")

    def loops(self) -> None:
        nodes = self.flow.nodes
        # A call ends at a hangup or a voicemail, or with an agent once queued (whatever `on_exit` says).
        exits = {n for n, node in nodes.items() if isinstance(node, _ENDS_CALL) or not self.edges[n]}
        reverse: dict[str, list[str]] = {n: [] for n in nodes}
        for source, targets in self.edges.items():
            for target in targets:
                reverse[target].append(source)
        can_exit: set[str] = set()
        for exit_id in exits:
            can_exit |= _reach(exit_id, reverse)
        for component in _cycles(self.edges):
            first = self.first(component)
            if not component & can_exit:
                self.report(
                    "loop-no-exit",
                    first,
                    None,
                    f"nodes {_names(component)} loop with no way to end the call",
                )
        silent = {
            n: [t for t in targets if not isinstance(nodes[t], _WAITS_FOR_CALLER)]
            for n, targets in self.edges.items()
            if not isinstance(nodes[n], _WAITS_FOR_CALLER)
        }
        for component in _cycles(silent):
            self.report(
                "loop-no-wait",
                self.first(component),
                None,
                f"nodes {_names(component)} loop without waiting for the caller",
            )

    def first(self, component: set[str]) -> str:
        return min(component, key=lambda n: (self.flow.source.line(n), n))

    def translations(self) -> None:
        languages = list(self.flow.languages)
        for node_id, path, text in self.flow.texts():
            missing = [lang for lang in languages if lang not in text.variants]
            if missing:
                where = f"node {node_id!r} {path}" if node_id else path
                self.report("missing-translation", node_id, path, f"{where} has no {', '.join(missing)} text")
        for node_id, node in self.flow.nodes.items():
            if not isinstance(node, MenuNode) or not node.speech:
                continue
            for index, option in enumerate(node.options):
                missing = [lang for lang in languages if option.words and lang not in option.words]
                if missing:
                    self.report(
                        "missing-translation",
                        node_id,
                        f"options.{index}.words",
                        f"node {node_id!r} option {index + 1} has no {', '.join(missing)} words",
                    )

    def references(self, skills: Collection[str] | None, queues: Collection[str] | None) -> None:
        collected = {n.save_as for n in self.flow.nodes.values() if isinstance(n, CollectNode)}
        for node_id, node in self.flow.nodes.items():
            for code, path, message in self.unknown_names(node, skills, queues, collected):
                self.report(code, node_id, path, message)

    def unknown_names(
        self,
        node: Node,
        skills: Collection[str] | None,
        queues: Collection[str] | None,
        collected: set[str],
    ) -> Iterator[tuple[str, str, str]]:
        flow = self.flow
        match node:
            case EnqueueNode():
                if queues is not None and node.queue not in queues:
                    yield "unknown-queue", "queue", f"unknown queue {node.queue!r}"
                for skill in node.skills:
                    if skills is not None and skill.name not in skills:
                        yield "unknown-skill", "skills", f"unknown skill {skill.name!r}"
            case LookupNode():
                if node.queue is not None and queues is not None and node.queue not in queues:
                    yield "unknown-queue", "queue", f"unknown queue {node.queue!r}"
                if node.case_number_from is not None and node.case_number_from not in collected:
                    yield "unknown-variable", "case_number_from", f"no collect node saves {node.case_number_from!r}"
            case MenuNode():
                for index, option in enumerate(node.options):
                    if option.language is not None and option.language not in flow.languages:
                        yield (
                            "unknown-language",
                            f"options.{index}.language",
                            f"the flow does not speak {option.language!r}",
                        )
            case BranchNode():
                for index, rule in enumerate(node.rules):
                    for key in ("open", "closed"):
                        name = getattr(rule.when, key)
                        if name is not None and name not in flow.calendars:
                            yield "unknown-calendar", f"rules.{index}.when.{key}", f"unknown calendar {name!r}"
                    for language in sorted(rule.when.languages or ()):
                        if language not in flow.languages:
                            yield (
                                "unknown-language",
                                f"rules.{index}.when.language",
                                f"the flow does not speak {language!r}",
                            )
            case SayNode() | PlayNode() | CollectNode() | VoicemailNode() | HangupNode():
                pass


def _reach(start: str, edges: Mapping[str, list[str]]) -> set[str]:
    seen = {start}
    todo = deque([start])
    while todo:
        for target in edges.get(todo.popleft(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _cycles(edges: Mapping[str, list[str]]) -> Iterator[set[str]]:
    """Yield the strongly connected components that contain a cycle (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in edges:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    yield component


def _names(component: set[str]) -> str:
    return ", ".join(repr(n) for n in sorted(component))
