"""Draw a flow: Mermaid text for the supervisor pages and Markdown, Graphviz DOT for an SVG.

Both drawings come from the same list of labelled edges, so a flow looks the same wherever it is shown. Node
ids are replaced by n0, n1, ... in the output because flow ids such as "end" or "graph" are keywords to Mermaid.
"""

from __future__ import annotations

import json

from ivr.models import (
    BranchNode,
    CollectNode,
    Condition,
    EnqueueNode,
    Flow,
    HangupNode,
    LookupNode,
    MenuNode,
    Node,
    PlayNode,
    SayNode,
    VoicemailNode,
)

__all__ = ["edges", "to_dot", "to_mermaid"]


def edges(node: Node, language: str) -> list[tuple[str, str]]:
    """Return (target, label) for every edge leaving a node, labelled in the caller's terms."""
    match node:
        case SayNode() | PlayNode():
            return [(node.next, "")]
        case MenuNode():
            labelled = []
            for option in node.options:
                words = option.words.get(language, ())
                label = " / ".join(part for part in (option.digits, words[0] if words else None) if part)
                labelled.append((option.goto, label))
            return [*labelled, (node.retry.on_failure, "no valid answer")]
        case CollectNode():
            return [(node.next, f"valid {node.save_as}"), (node.retry.on_failure, "no valid answer")]
        case BranchNode():
            return [*((rule.goto, _describe(rule.when)) for rule in node.rules), (node.otherwise, "otherwise")]
        case LookupNode():
            found = [(node.next, "ok")]
            if node.not_found is not None:
                found.append((node.not_found, "not found"))
            return [*found, (node.error, "error")]
        case EnqueueNode():
            return [] if node.on_exit is None else [(node.on_exit, "left queue")]
        case VoicemailNode() | HangupNode():
            return []


def _describe(condition: Condition) -> str:
    parts = []
    if condition.open is not None:
        parts.append(f"{condition.open} open")
    if condition.closed is not None:
        parts.append(f"{condition.closed} closed")
    if condition.tiers is not None:
        parts.append("tier " + "/".join(sorted(condition.tiers)))
    if condition.languages is not None:
        parts.append("language " + "/".join(sorted(condition.languages)))
    if condition.known is not None:
        parts.append("known caller" if condition.known else "unknown caller")
    return " and ".join(parts) or "always"


def _summary(node: Node) -> str:
    match node:
        case EnqueueNode():
            skills = ", ".join(f"{s.name}≥{s.level}" for s in node.skills)
            return f"queue {node.queue}" + (f" ({skills})" if skills else "")
        case LookupNode():
            return f"lookup {node.kind}"
        case CollectNode():
            return f"collect {node.format}"
    return type(node).__name__.removesuffix("Node").lower()


def _ids(flow: Flow) -> dict[str, str]:
    return {node_id: f"n{index}" for index, node_id in enumerate(flow.nodes)}


def to_mermaid(flow: Flow, language: str | None = None) -> str:
    """Return the flow as a Mermaid flowchart, with menu words in `language` (default: the flow's)."""
    language = language or flow.default_language
    ids = _ids(flow)
    lines = ["flowchart TD", f"    start(((start))) --> {ids.get(flow.start, 'missing')}"]
    for node_id, node in flow.nodes.items():
        label = _mermaid_text(f"{node_id}<br/>{_summary(node)}")
        open_, close = _MERMAID_SHAPES.get(type(node), ("[", "]"))
        lines.append(f"    {ids[node_id]}{open_}{label}{close}")
    for node_id, node in flow.nodes.items():
        for target, label in edges(node, language):
            arrow = f"-->|{_mermaid_text(label)}|" if label else "-->"
            lines.append(f"    {ids[node_id]} {arrow} {ids.get(target, 'missing')}")
    if any(t not in flow.nodes for n in flow.nodes.values() for t, _ in edges(n, language)):
        lines.append('    missing["missing node"]')
    return "\n".join(lines) + "\n"


_MERMAID_SHAPES: dict[type, tuple[str, str]] = {
    BranchNode: ("{", "}"),
    MenuNode: ("[/", "/]"),
    CollectNode: ("[/", "/]"),
    LookupNode: ("[[", "]]"),
    EnqueueNode: ("([", "])"),
    VoicemailNode: ("([", "])"),
    HangupNode: ("([", "])"),
}


def _mermaid_text(text: str) -> str:
    # Quoted labels may hold any character but the quote itself, which Mermaid spells as an entity.
    return '"' + text.replace('"', "#quot;") + '"'


def to_dot(flow: Flow, language: str | None = None) -> str:
    """Return the flow as a Graphviz digraph (render with `dot -Tsvg`)."""
    language = language or flow.default_language
    ids = _ids(flow)
    lines = [
        f"digraph {json.dumps(flow.name)} {{",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", shape=box, style=rounded];',
        '  start [shape=circle, label="start"];',
        f"  start -> {ids.get(flow.start, 'missing')};",
    ]
    for node_id, node in flow.nodes.items():
        shape = _DOT_SHAPES.get(type(node), "box")
        # json.dumps gives a double-quoted string with backslash escapes, which is exactly DOT's ID syntax.
        lines.append(f"  {ids[node_id]} [shape={shape}, label={json.dumps(node_id + chr(10) + _summary(node))}];")
    for node_id, node in flow.nodes.items():
        for target, label in edges(node, language):
            lines.append(f"  {ids[node_id]} -> {ids.get(target, 'missing')} [label={json.dumps(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


_DOT_SHAPES: dict[type, str] = {
    BranchNode: "diamond",
    MenuNode: "parallelogram",
    CollectNode: "parallelogram",
    LookupNode: "box3d",
    EnqueueNode: "doubleoctagon",
    VoicemailNode: "doubleoctagon",
    HangupNode: "doubleoctagon",
}
