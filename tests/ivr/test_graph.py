"""Flow diagrams: Mermaid for the pages, DOT for SVG."""

from __future__ import annotations

from ivr.graph import to_dot, to_mermaid
from ivr.loader import parse_flow
from ivr.models import Flow


def test_mermaid_shows_every_node_and_labelled_edge(main_menu: Flow) -> None:
    text = to_mermaid(main_menu)
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    ids = {node_id: f"n{i}" for i, node_id in enumerate(main_menu.nodes)}
    assert f'    {ids["entry"]} -->|"support closed"| {ids["after_hours"]}' in lines
    assert f'    {ids["main_menu"]} -->|"1 / status"| {ids["ask_case"]}' in lines
    assert f'    {ids["case_lookup"]} -->|"not found"| {ids["case_not_found"]}' in lines
    assert f'    {ids["billing_route"]} -->|"tier high/potential"| {ids["billing_priority_queue"]}' in lines
    assert f'    {ids["technical_mandarin_queue"]}(["technical_mandarin_queue<br/>queue technical' in text
    assert len([line for line in lines if "-->" in line]) == 1 + 40


def test_mermaid_words_follow_the_language(main_menu: Flow) -> None:
    assert '"1 / 状态"' in to_mermaid(main_menu, "zh-CN")


def test_awkward_ids_and_missing_targets_are_safe() -> None:
    flow = parse_flow(
        """
flow: odd
start: end
languages: {en-US: {voice: Polly.Joanna}}
nodes:
  end: {type: say, text: 'Say "hi"', next: gone}
"""
    )
    text = to_mermaid(flow)
    assert "n0 --> missing" in text
    assert 'missing["missing node"]' in text
    dot = to_dot(flow)
    assert dot.startswith('digraph "odd" {')
    assert 'n0 [shape=box, label="end\\nsay"];' in dot
    assert "n0 -> missing" in dot
