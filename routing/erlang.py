r"""Erlang C: the textbook model of a queue of calls served by N agents.

Calls arrive as a Poisson process of rate :math:`\lambda` per second, handle times are exponential with mean
:math:`h` seconds, nobody hangs up, and the traffic intensity is :math:`A = \lambda h` erlangs. With :math:`N > A`
agents:

.. math::

    P_w = C(N, A) = \frac{N\,B(N, A)}{N - A\,(1 - B(N, A))}, \qquad
    SL(T) = 1 - P_w\, e^{-(N - A)\,T / h}, \qquad
    ASA = \frac{P_w\, h}{N - A}

:math:`B` is the Erlang B blocking probability. The factorials and powers of the closed form overflow beyond a
few hundred agents, so :math:`B` comes from its recursion :math:`B(0) = 1`,
:math:`B(n) = A B(n-1) / (n + A B(n-1))`, every term of which lies in :math:`[0, 1]`: stable for any N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ErlangResult",
    "agents_needed",
    "average_speed_of_answer",
    "erlang_b",
    "erlang_c",
    "evaluate",
    "service_level",
]

# A staffing search that passes this many agents has been asked something unreasonable.
_MAX_AGENTS = 1_000_000


def erlang_b(agents: int, traffic: float) -> float:
    """Return the Erlang B blocking probability for ``agents`` servers offered ``traffic`` erlangs."""
    if agents < 0 or traffic < 0:
        raise ValueError("agents and traffic must be non-negative")
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return blocking


def erlang_c(agents: int, traffic: float) -> float:
    """Return the probability that a call waits (1.0 when the agents cannot keep up: ``agents <= traffic``)."""
    if agents <= traffic:
        return 1.0
    blocking = erlang_b(agents, traffic)
    return agents * blocking / (agents - traffic * (1.0 - blocking))


def service_level(agents: int, traffic: float, aht: float, threshold: float) -> float:
    """Return the share of calls answered within ``threshold`` seconds."""
    if agents <= traffic:
        return 0.0
    return max(0.0, 1.0 - erlang_c(agents, traffic) * math.exp(-(agents - traffic) * threshold / aht))


def average_speed_of_answer(agents: int, traffic: float, aht: float) -> float:
    """Return the mean wait over all calls, in seconds (infinite when the queue grows without bound)."""
    if agents <= traffic:
        return math.inf
    return erlang_c(agents, traffic) * aht / (agents - traffic)


def agents_needed(arrival_rate: float, aht: float, target: float, threshold: float) -> int:
    """Return the fewest agents that answer ``target`` (0-1) of calls within ``threshold`` seconds."""
    if arrival_rate < 0 or aht <= 0 or threshold < 0 or not 0 < target < 1:
        raise ValueError("need arrival_rate >= 0, aht > 0, threshold >= 0 and 0 < target < 1")
    traffic = arrival_rate * aht
    if traffic == 0:
        return 0
    agents = math.floor(traffic) + 1
    blocking = erlang_b(agents, traffic)
    # Service level rises with every added agent, so the first one that meets the target is the answer; B(n) is
    # carried along the recursion so the search costs O(answer), not O(answer squared).
    while True:
        waiting = agents * blocking / (agents - traffic * (1.0 - blocking))
        if 1.0 - waiting * math.exp(-(agents - traffic) * threshold / aht) >= target:
            return agents
        agents += 1
        if agents > _MAX_AGENTS:
            raise ValueError("no staffing below a million agents meets that target")
        blocking = traffic * blocking / (agents + traffic * blocking)


@dataclass(frozen=True, slots=True)
class ErlangResult:
    """Erlang C figures for one staffing level and the staffing a target needs."""

    arrival_rate: float
    aht: float
    traffic: float
    agents: int
    probability_of_waiting: float
    service_level: float
    average_speed_of_answer: float
    occupancy: float
    threshold: float
    target: float


def evaluate(
    arrival_rate: float, aht: float, target: float, threshold: float, agents: int | None = None
) -> ErlangResult:
    """Staff for the target (unless ``agents`` is given) and report that staffing's figures."""
    staffed = agents_needed(arrival_rate, aht, target, threshold) if agents is None else agents
    traffic = arrival_rate * aht
    return ErlangResult(
        arrival_rate=arrival_rate,
        aht=aht,
        traffic=traffic,
        agents=staffed,
        probability_of_waiting=erlang_c(staffed, traffic) if staffed else (1.0 if traffic else 0.0),
        service_level=service_level(staffed, traffic, aht, threshold) if traffic else 1.0,
        average_speed_of_answer=average_speed_of_answer(staffed, traffic, aht) if traffic else 0.0,
        occupancy=min(traffic / staffed, 1.0) if staffed else 0.0,
        threshold=threshold,
        target=target,
    )
