"""Daily reports, wallboard history and CSV cells, from plain contact rows."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from contact_center.reporting import ContactFacts, agent_report, csv_cell, history, queue_report, to_csv

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def answered(queue, agent, wait, handle, *, at=T0, disposition=None):
    return ContactFacts(
        queue=queue,
        agent=agent,
        started_at=at,
        answered_at=at + timedelta(seconds=wait),
        ended_at=at + timedelta(seconds=wait + handle) if handle is not None else None,
        wait_seconds=wait,
        handle_seconds=handle,
        disposition=disposition,
    )


def abandoned(queue, wait, *, at=T0):
    return ContactFacts(queue, None, at, None, at + timedelta(seconds=wait), None, None, "abandoned")


ROWS = [
    answered("billing", "Bob", 10, 100, disposition="resolved"),
    answered("billing", "Bob", 30, 200, disposition="resolved"),
    answered("billing", "Alice", 5, None),  # still talking
    abandoned("billing", 40),
    answered("sales", "Alice", 2, 60, disposition="sale"),
    ContactFacts("sales", None, T0, None, None, None, None),  # still waiting: not counted yet
]


def test_queue_figures_follow_the_usual_definitions():
    billing, sales = queue_report(ROWS, {"billing": 20.0})
    assert (billing.queue, billing.offered, billing.answered, billing.abandoned) == ("billing", 4, 3, 1)
    assert billing.answered_within_threshold == 2
    assert billing.service_level == 0.5
    assert billing.average_speed_of_answer == 15.0
    assert billing.average_handle_time == 150.0
    assert billing.abandonment_rate == 0.25
    assert (sales.offered, sales.service_level) == (1, 1.0)


def test_agent_figures_count_handled_completed_and_wrap_up_codes():
    alice, bob = agent_report(ROWS)
    assert (bob.agent, bob.handled, bob.completed, bob.total_handle_seconds) == ("Bob", 2, 2, 300.0)
    assert bob.average_handle_time == 150.0
    assert bob.dispositions == {"resolved": 2}
    assert (alice.handled, alice.completed, alice.dispositions) == (2, 1, {"sale": 1})


def test_history_counts_each_contact_in_the_interval_its_wait_ended():
    rows = [answered("q", "Bob", 10, 5, at=T0), abandoned("q", 20, at=T0 + timedelta(minutes=20))]
    h = history(rows, T0, T0 + timedelta(hours=1), timedelta(minutes=15))
    assert h["offered"] == [1, 1, 0, 0]
    assert h["answered"] == [1, 0, 0, 0]
    assert h["abandoned"] == [0, 1, 0, 0]
    assert h["service_level"] == [100.0, 0.0, None, None]
    assert h["t"][1] - h["t"][0] == 900


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised():
    text = to_csv(["agent", "handled"], [['=HYPERLINK("http://x")', 3], ["@SUM(A1)", -1], ["Bob", 0.5]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["agent", "handled"], ['\'=HYPERLINK("http://x")', "3"], ["'@SUM(A1)", "-1"], ["Bob", "0.5"]]


@given(st.text())
def test_no_text_cell_starts_like_a_formula(text):
    assert not csv_cell(text).startswith(("=", "+", "-", "@", "\t", "\r"))
    assert csv_cell(text).removeprefix("'") == text or csv_cell(text) == text
