r"""Task priority: one formula for customer value, base priority, SLA urgency and aging.

The score of a waiting task at time :math:`t`, in seconds, is

.. math::

    P(t) = \underbrace{(t - c)}_{\text{aging}}
         \; - \underbrace{\min(s, H)}_{\text{SLA urgency}}
         \; + \underbrace{\alpha\, v}_{\text{customer value}}
         \; + \underbrace{\beta\, b}_{\text{base priority}}

where :math:`c` is the creation time, :math:`s` the SLA target (seconds), :math:`v \in [0, 100]` the customer
value, :math:`b \in [0, 10]` the base priority, and :math:`\alpha` (``value_seconds``), :math:`\beta`
(``base_seconds``) and :math:`H` (``sla_horizon``) are weights in seconds. Read it as "seconds past the task's
effective deadline": the deadline is creation plus the (capped) SLA target, moved earlier by a head start of
:math:`\alpha` seconds per value point and :math:`\beta` per base-priority point. The highest score is served first.

Why this shape:

* Every task ages at the same rate (one point per second), so the order of two waiting tasks never changes while
  they wait. The engine can therefore keep each queue sorted once by the time-free
  :func:`priority_key` :math:`k = c + \min(s, H) - \alpha v - \beta b` (smaller key, higher score, since
  :math:`P(t) = t - k`), and a Redis backend can keep it in a sorted set with a fixed score.
* At equal wait, base priority and SLA target, higher value means a larger score: high-value customers first.
* No starvation. For two tasks :math:`i, j` waiting :math:`w_i, w_j`:

  .. math::

      P_i - P_j = (w_i - w_j) - (\min(s_i,H) - \min(s_j,H)) + \alpha (v_i - v_j) + \beta (b_i - b_j)
                \ge (w_i - w_j) - H - 100\alpha - 10\beta

  so a task that has waited more than :math:`W = H + 100\alpha + 10\beta` seconds longer than another is served
  before it, whatever their values, priorities and SLA targets (:func:`starvation_bound`; the property test in
  ``tests/routing/test_priority.py`` checks it). With the defaults :math:`W = 120 + 100 + 100 = 320` s.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.models import MAX_BASE_PRIORITY, MAX_VALUE, Task

__all__ = ["PriorityWeights", "priority_key", "score", "starvation_bound"]


@dataclass(frozen=True, slots=True)
class PriorityWeights:
    """The weights of the priority formula, all in seconds of head start."""

    value_seconds: float = 1.0
    """Head start per customer-value point (value 100 jumps 100 s ahead)."""
    base_seconds: float = 10.0
    """Head start per base-priority point."""
    sla_horizon: float = 120.0
    """SLA targets longer than this count as this, which bounds how far a long target can hold a task back."""

    def __post_init__(self) -> None:
        if self.value_seconds < 0 or self.base_seconds < 0 or self.sla_horizon < 0:
            raise ValueError("priority weights must be non-negative")


def priority_key(task: Task, weights: PriorityWeights) -> float:
    """Return the time-free ordering key of ``task``: smaller keys are served first."""
    return (
        task.created_at
        + min(task.sla_target, weights.sla_horizon)
        - weights.value_seconds * task.value
        - weights.base_seconds * task.base_priority
    )


def score(task: Task, now: float, weights: PriorityWeights) -> float:
    """Return the priority score of ``task`` at ``now``: seconds past its effective deadline."""
    return now - priority_key(task, weights)


def starvation_bound(weights: PriorityWeights) -> float:
    """Return W: a task that waited more than W seconds longer than another always outranks it."""
    return weights.sla_horizon + MAX_VALUE * weights.value_seconds + MAX_BASE_PRIORITY * weights.base_seconds
