"""Why work orders are left out of a plan: the first rule that rules everyone out, or no room in the routes."""

from __future__ import annotations

from datetime import timedelta

from field_service.plan import Plan
from field_service.problem import Technician, WorkOrder
from field_service.reasons import unassigned_reasons
from tests.field_service.factories import DAY, day_of, order, technician, window


def reasons_for(technicians: list[Technician], orders: list[WorkOrder]) -> dict[str, str]:
    day = day_of(technicians, orders)
    return unassigned_reasons(day, Plan((), tuple(job.id for job in day.jobs)))


def test_each_rule_that_rules_everyone_out_is_named() -> None:
    reasons = reasons_for(
        [technician("ada"), technician("ben", days_off=frozenset({DAY}))],
        [
            order("skills", required_skills={"network": 5}),
            order("parts", parts={"FUSE": 1}),
            order("pinned-off", pinned_to="ben"),
            order("pinned-unskilled", pinned_to="ada", required_skills={"hvac": 1}),
            order("fits", window=window(9, 10)),
        ],
    )
    assert reasons["skills"] == "no technician working this day has the skills (network 5)"
    assert reasons["parts"] == "parts not in stock for any skilled technician (1 x FUSE)"
    assert reasons["pinned-off"] == "pinned to ben, who does not work this day"
    # Ben (hvac) is off: nobody working has the skill, which is the first thing to fix.
    assert reasons["pinned-unskilled"] == "no technician working this day has the skills (hvac 1)"
    assert reasons["fits"] == "no room: the routes of those who could do it (ada) cannot fit it in its window"


def test_a_pin_to_someone_who_cannot_do_it_is_named() -> None:
    reasons = reasons_for(
        [technician("ada"), technician("ben")], [order("pinned", pinned_to="ada", required_skills={"hvac": 1})]
    )
    assert reasons["pinned"] == "pinned to ada, who lacks the skills or parts for it"


def test_nobody_working_is_the_reason_for_everything() -> None:
    reasons = reasons_for([technician("ada", shifts={})], [order("a"), order("b", duration=timedelta(minutes=5))])
    assert set(reasons.values()) == {"no technician works this day"}
