"""Workflow YAML: the example loads, plans are concrete, and every mistake names its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

import routing
from routing.errors import WorkflowConfigError
from routing.workflows import FallbackAction, RoutingRules, load_rules, parse_rules
from tests.routing.factories import task

EXAMPLE = Path(routing.__file__).parent / "examples" / "workflows.yaml"


def test_example_file_loads_against_its_skills_and_queues() -> None:
    rules = load_rules(
        EXAMPLE,
        known_skills={"billing", "networking", "routers"},
        known_queues={"billing", "technical", "billing_es"},
    )
    assert set(rules.queues) == {"billing", "technical", "billing_es"}
    billing = rules.workflows["billing"]
    assert [step.name for step in billing.steps][:2] == ["last agent", "billing experts"]
    assert billing.fallback is FallbackAction.VOICEMAIL


def test_plan_merges_task_and_step_requirements(rules: RoutingRules) -> None:
    plan = rules.plan(
        task(
            "t1",
            created_at=100.0,
            required_skills={"billing": 8, "refunds": 2},
            language="es",
            attributes={"last_agent": "bob"},
        )
    )
    assert [step.name for step in plan.steps] == ["last agent", "experts", "generalists", "billing team"]
    sticky, experts, _, team = plan.steps
    assert sticky.requirement.agents == frozenset({"bob"})
    assert sticky.until == 110.0
    assert experts.requirement.skills == (("billing", 8), ("refunds", 2))  # the task's 8 beats the step's 7
    assert experts.requirement.languages == frozenset({"es"})
    assert team.requirement.team == "billing"
    assert team.until == 400.0
    assert plan.reservation_timeout == 20
    assert plan.step_at(100) == 0
    assert plan.step_at(115) == 1
    assert plan.step_at(400) == 4


def test_agent_list_step_accepts_a_list_attribute(rules: RoutingRules) -> None:
    plan = rules.plan(task("t1", attributes={"last_agent": ["bob", "carol"]}))
    assert plan.steps[0].requirement.agents == frozenset({"bob", "carol"})


def test_plans_of_one_shape_share_requirements_but_not_deadlines() -> None:
    rules = parse_rules(
        "workflows:\n  w:\n    steps:\n      - {skills: {billing: 5}, timeout: 30}\n      - {team: billing}\n"
        "queues:\n  billing: {workflow: w, reservation_timeout: 9}\n"
    )
    first = rules.plan(task("t1", created_at=100.0, required_skills={"refunds": 2}))
    again = rules.plan(task("t2", created_at=250.0, required_skills={"refunds": 2}))
    other = rules.plan(task("t3", created_at=250.0, required_skills={"refunds": 3}, language="es"))
    assert [step.until for step in first.steps] == [130.0, None]
    assert [step.until for step in again.steps] == [280.0, None]
    assert [a.requirement is b.requirement for a, b in zip(first.steps, again.steps, strict=True)] == [True, True]
    assert again.reservation_timeout == 9
    assert other.steps[0].requirement.skills == (("billing", 5), ("refunds", 3))
    assert other.steps[0].requirement.languages == frozenset({"es"})
    transferred = rules.plan(
        task("t4", created_at=250.0, required_skills={"refunds": 2}, attributes={"transfer_to": "bob"})
    )
    assert [step.name for step in transferred.steps] == ["transfer", "step 1", "step 2"]
    assert transferred.steps[0].until == 310.0
    assert rules.plan(task("t5", created_at=1.0, required_skills={"refunds": 2})).steps[0].until == 31.0


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "workflows:\n  w:\n    steps:\n      - skills: {billing: 7}\n"
            "        timeout: 3\nqueues:\n  q:\n    workflow: x\n",
            8,
            "unknown workflow 'x'",
        ),
        ("workflows:\n  w:\n    steps:\n      - skills: {biling: 7}\n", 4, "unknown skill 'biling'"),
        (
            "workflows:\n  w:\n    steps:\n      - skills: {billing: 7}\nqueues:\n  nope:\n    workflow: w\n",
            6,
            "unknown queue 'nope'",
        ),
        ("workflows:\n  w:\n    steps:\n      - skills: {billing: 11}\n", 4, "level must be 1-10"),
        (
            "workflows:\n  w:\n    steps:\n      - team: a\n      - team: b\n",
            4,
            "only the last step may have no timeout",
        ),
        (
            "workflows:\n  w:\n    steps:\n      - team: a\n        timeout: 30\n"
            "      - team: b\n        timeout: 20\n",
            6,
            "must grow",
        ),
        ("workflows:\n  w:\n    steps:\n      - team: a\n    fallback: email\n", 5, "fallback must be one of"),
        ("workflows:\n  w:\n    steps: []\n", 3, "non-empty list of steps"),
        ("workflows:\n  w:\n    steps:\n      - team: a\n        timout: 3\n", 5, "unknown key 'timout'"),
        ("workflows:\n  w:\n    steps:\n      - team: a\n        timeout: -3\n", 5, "positive number of seconds"),
        ("workflows:\n  w:\n    steps:\n      - team: a\n  w:\n    steps:\n      - team: b\n", 5, "given twice"),
        ("workflows:\n  w:\n    steps:\n      - team: [a\n", 5, "not valid YAML"),
        ("queues:\n  q: {}\n", 2, "needs a workflow"),
        ("- just a list\n", 1, "must be a mapping"),
    ],
)
def test_errors_name_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(WorkflowConfigError) as caught:
        parse_rules(text, "routing.yaml", known_skills={"billing"}, known_queues={"q"})
    assert caught.value.line == line, str(caught.value)
    assert str(caught.value).startswith(f"routing.yaml:{line}: ")
    assert message in str(caught.value)


def test_load_rules_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("workflows:\n  w:\n    steps:\n      - skills: {x: 7}\n", encoding="utf-8")
    with pytest.raises(WorkflowConfigError, match=rf"^{path}:4: unknown skill 'x'"):
        load_rules(path, known_skills={"billing"})
    with pytest.raises(WorkflowConfigError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


def test_empty_file_gives_empty_rules() -> None:
    assert parse_rules("") == RoutingRules()
