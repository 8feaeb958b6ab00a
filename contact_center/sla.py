"""SLA clocks, pure: which policy applies, when targets fall due, and how pauses push them out.

A target is measured in business time from the case's creation, minus the business time the case spent paused
(waiting on the customer). So due = add_business_time(created_at, target + paused), which stays right however many
times a case pauses and resumes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from contact_center.models.cases import CasePriority
from contact_center.models.customers import CustomerTier
from routing.calendar import BusinessCalendar

__all__ = ["PolicyTerms", "SlaDue", "choose_policy", "due_times", "paused_business_seconds"]


@dataclass(frozen=True)
class PolicyTerms:
    """The part of an SLA policy the clock needs."""

    policy_id: int
    priority: CasePriority | None
    tier: CustomerTier | None
    first_response_minutes: int
    resolution_minutes: int
    calendar: BusinessCalendar


@dataclass(frozen=True)
class SlaDue:
    first_response_due_at: datetime
    resolution_due_at: datetime


def choose_policy(policies: Iterable[PolicyTerms], priority: CasePriority, tier: CustomerTier) -> PolicyTerms | None:
    """Return the most specific policy matching both priority and tier (a blank field matches anything).

    Priority outranks tier; among equally specific policies the oldest wins, so adding one never silently
    changes which policy the existing ones resolve to.
    """
    matching = [p for p in policies if p.priority in (None, priority) and p.tier in (None, tier)]
    return max(
        matching,
        key=lambda p: ((p.priority is not None) * 2 + (p.tier is not None), -p.policy_id),
        default=None,
    )


def due_times(policy: PolicyTerms, created_at: datetime, paused_seconds: float) -> SlaDue:
    """Return the first-response and resolution due times, pushed out by the business time spent paused."""
    calendar = policy.calendar
    return SlaDue(
        first_response_due_at=calendar.add_business_seconds(
            created_at, policy.first_response_minutes * 60 + paused_seconds
        ),
        resolution_due_at=calendar.add_business_seconds(created_at, policy.resolution_minutes * 60 + paused_seconds),
    )


def paused_business_seconds(calendar: BusinessCalendar, paused_since: datetime, resumed_at: datetime) -> float:
    """Return the business time a pause covered: only open hours count, like the targets themselves."""
    return calendar.business_seconds_between(paused_since, resumed_at)
