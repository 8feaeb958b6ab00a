"""Email figures per day and queue: counts, medians and nearest-rank 90th percentiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from email_response.analytics import CaseTimes, Durations, email_figures, nearest_rank

DAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_figures_are_grouped_by_day_and_queue():
    cases = [
        CaseTimes(DAY, "billing", DAY + timedelta(minutes=10), DAY + timedelta(hours=2)),
        CaseTimes(DAY, "billing", DAY + timedelta(minutes=30), None),
        CaseTimes(DAY, None, None, None),
        CaseTimes(DAY + timedelta(days=1), "billing", DAY + timedelta(days=1, minutes=5), None),
    ]
    figures = email_figures(
        inbound=[(DAY, "billing"), (DAY, "billing"), (DAY, None), (DAY + timedelta(days=1), "billing")],
        auto_replies=[(DAY, "billing")],
        cases=cases,
    )
    assert [(f.day.isoformat(), f.queue) for f in figures] == [
        ("2026-11-23", "(none)"),
        ("2026-11-23", "billing"),
        ("2026-11-24", "billing"),
    ]
    billing = figures[1]
    assert (billing.emails_in, billing.auto_replies, billing.cases_opened, billing.open_cases) == (2, 1, 2, 1)
    assert billing.first_response == Durations(2, 1200.0, 1800.0)
    assert billing.resolution == Durations(1, 7200.0, 7200.0)
    assert figures[0].first_response == Durations(0, None, None)


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=200))
def test_the_90th_percentile_is_an_observed_value_between_median_and_max(values):
    ordered = sorted(values)
    summary = Durations.of(values)
    assert summary.p90 in ordered
    assert summary.median is not None
    assert ordered[0] <= summary.median <= ordered[-1]
    assert summary.p90 <= ordered[-1]
    assert sum(1 for v in ordered if v <= summary.p90) >= 0.9 * len(ordered)
    assert nearest_rank(ordered, 100) == ordered[-1]
