"""The visit lifecycle's rules: the order of steps, who may move a job, when things may be recorded, the ETA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from field_service.lifecycle import (
    CLOSED,
    NEXT,
    SAME_SHIFT,
    Arrival,
    TransitionRefused,
    check_recording,
    check_transition,
    eta,
    may_move,
    previous_stop,
)
from field_service.models import WorkOrderStatus
from tests.field_service.factories import TRAVEL, near

NOW = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
HOME, FIRST, SECOND = near(-5), near(0), near(3)


def test_the_rules_speak_the_work_order_statuses():
    statuses = {s.value for s in WorkOrderStatus}
    assert set(NEXT) | CLOSED | {t for targets in NEXT.values() for t in targets} <= statuses


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("scheduled", "en_route"),
        ("dispatched", "en_route"),
        ("en_route", "on_site"),
        ("on_site", "completed"),
    ],
)
def test_each_step_follows_the_one_before(current, target):
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target", "says"),
    [
        ("scheduled", "on_site", "can go en route next, not on site"),
        ("en_route", "completed", "can go cannot complete or on site next"),
        ("unscheduled", "en_route", "not on anyone's route"),
        ("completed", "on_site", r"closed \(completed\)"),
        ("cannot_complete", "completed", "closed"),
        ("on_site", "on_site", "on site already"),
    ],
)
def test_steps_out_of_order_say_what_may_come_next(current, target, says):
    with pytest.raises(TransitionRefused, match=says):
        check_transition(current, target)


def test_cannot_complete_needs_a_reason():
    with pytest.raises(TransitionRefused, match="why"):
        check_transition("on_site", "cannot_complete", reason="  ")
    check_transition("on_site", "cannot_complete", reason="No access to the cellar")
    check_transition("en_route", "cannot_complete", reason="Road closed")


def test_parts_and_readings_wait_for_arrival_notes_and_photos_do_not():
    check_recording("on_site", "parts")
    check_recording("on_site", "reading")
    check_recording("en_route", "note")
    check_recording("scheduled", "photo")
    with pytest.raises(TransitionRefused, match="once on site"):
        check_recording("en_route", "parts")
    with pytest.raises(TransitionRefused, match="closed"):
        check_recording("completed", "note")
    with pytest.raises(TransitionRefused, match="not on anyone's route"):
        check_recording("unscheduled", "photo")


def test_only_the_assigned_technician_or_a_supervisor_moves_a_job():
    assert may_move("ada", "ada", supervisor=False)
    assert not may_move("ada", "ben", supervisor=False)
    assert not may_move(None, None, supervisor=False)
    assert may_move("ada", None, supervisor=True)


def test_a_technician_sets_off_from_the_last_site_reached_this_shift():
    arrivals = [Arrival(NOW - timedelta(hours=3), FIRST), Arrival(NOW - timedelta(hours=1), SECOND)]
    assert previous_stop(arrivals, HOME, NOW) == SECOND
    assert previous_stop(arrivals[:1], HOME, NOW) == FIRST
    assert previous_stop([], HOME, NOW) == HOME
    # Yesterday's last job is not where today starts.
    assert previous_stop([Arrival(NOW - SAME_SHIFT - timedelta(minutes=1), FIRST)], HOME, NOW) == HOME


def test_the_eta_is_now_plus_the_drive():
    drive = TRAVEL.seconds([HOME, FIRST])[0][1]
    assert drive > 0
    assert eta(NOW, HOME, FIRST, TRAVEL) == NOW + timedelta(seconds=drive)
    assert eta(NOW, FIRST, FIRST, TRAVEL) == NOW
