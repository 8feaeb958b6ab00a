"""The supervisor wallboard's figures over HTTP: live queues and agents with staffing, history, a what-if, and the
daily report per queue and agent (JSON or CSV)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func
from sqlmodel import col, select

from contact_center.db import Database
from contact_center.dispatch import DEFAULT_QUEUE, Dispatcher
from contact_center.errors import InvalidInput
from contact_center.models import Agent, Contact, Queue
from contact_center.reporting import ContactFacts, agent_report, history, queue_report, to_csv
from contact_center.web.api.params import now
from contact_center.web.auth import SUPERVISORS
from contact_center.web.keys import DATABASE, DISPATCHER
from contact_center.web.router import ApiRouter
from routing.erlang import agents_needed, service_level
from routing.simulator import SimulationConfig, simulate

__all__ = ["live_figures", "qualifies", "router"]

router = ApiRouter("wallboard")

# Figures are over the last hour: long enough to be steady, short enough to show the morning's rush.
WINDOW = 3600.0
# Before a queue has finished any contact there is no AHT to staff from; a typical contact takes this long.
_DEFAULT_AHT = 240.0
_STAFFED = ("available", "busy", "wrap_up")
# The what-if simulates this many calls at most, so one request stays well under a second of CPU.
_MAX_SIMULATED_CALLS = 5000
# The wallboard lists agents one by one up to this many (a floor's worth); beyond, the counts by state tell.
_MAX_LISTED = 200


def qualifies(skills: Mapping[str, int], required: Mapping[str, int]) -> bool:
    """Return whether an agent's skills meet every level a queue requires."""
    return all(skills.get(skill, 0) >= level for skill, level in required.items())


async def live_figures(database: Database, dispatcher: Dispatcher) -> dict[str, Any]:
    """Return every queue's live figures with Erlang C staffing, and the agents by state."""
    async with database.transaction() as session:
        queues = list((await session.scalars(select(Queue).order_by(col(Queue.name)))).all())
        active = col(Agent.active).is_(True)
        agents = list(
            (await session.scalars(select(Agent).where(active).order_by(col(Agent.name)).limit(_MAX_LISTED))).all()
        )
        roster = len(agents)
        if roster == _MAX_LISTED:  # the list stopped at its limit: count the rest of the floor
            roster = (await session.execute(select(func.count()).select_from(Agent).where(active))).scalar_one()
    at = dispatcher.now()
    totals = await dispatcher.backend.agent_statistics(at, WINDOW)
    by_activity = dict(totals.by_activity)
    # The engine knows an agent once it has been signed in since the engine started; the rest of the roster is
    # offline too, as the agent list below says of each of them.
    by_activity["offline"] = by_activity.get("offline", 0) + max(0, roster - sum(by_activity.values()))
    # One batch read for every listed agent: a floor of 200 agents read one by one was 200 round trips to Redis.
    states = list(zip(agents, await dispatcher.backend.get_agents([str(a.id) for a in agents]), strict=True))
    staffed = [state for _, state in states if state is not None and str(state.activity) in _STAFFED]
    targets = {q.name: (float(q.service_level_seconds), q.service_level_target, q.required_skills) for q in queues}
    targets.setdefault(DEFAULT_QUEUE, (20.0, 0.8, {}))
    rows = []
    for name in sorted(targets):
        threshold, target, required = targets[name]
        stats = await dispatcher.backend.queue_statistics(name, at, WINDOW)
        rate = (stats.offered + stats.short_abandoned) / WINDOW
        aht = stats.average_handle_time or _DEFAULT_AHT
        rows.append(
            {
                **dataclasses.asdict(stats),
                "threshold": threshold,
                "target": target,
                "arrival_rate_per_hour": rate * 3600,
                "staffing_aht": aht,
                "agents_needed": agents_needed(rate, aht, target, threshold) if rate > 0 else 0,
                # Staffed for this queue: signed in (available, busy or wrapping up) with the skills it requires.
                "agents_staffed": sum(1 for state in staffed if qualifies(state.skills, required)),
            }
        )
    return {
        "type": "figures",
        "at": at,
        "window": WINDOW,
        "queues": rows,
        "agents": {
            "by_activity": by_activity,
            "occupancy": totals.occupancy,
            "staffed": len(staffed),
            "list": [
                {
                    "id": agent.id,
                    "name": agent.name,
                    "activity": str(state.activity) if state else "offline",
                    "load": sum(state.load.values()) if state else 0,
                }
                for agent, state in states
            ],
        },
    }


@router.route(
    "GET", "/api/v1/wallboard", summary="Live figures per queue, staffing and agents by state", roles=SUPERVISORS
)
async def wallboard(request: web.Request) -> dict[str, Any]:
    return await live_figures(request.app[DATABASE], request.app[DISPATCHER])


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hours: int = Field(default=8, ge=1, le=48)
    minutes: int = Field(default=15, ge=1, le=120, description="interval length")
    queue: str | None = Field(default=None, max_length=80)


async def _facts(request: web.Request, start: datetime, end: datetime) -> tuple[list[ContactFacts], dict[str, float]]:
    async with request.app[DATABASE].transaction() as session:
        queues = {q.id: q for q in (await session.scalars(select(Queue))).all()}
        agents = {a.id: a.name for a in (await session.scalars(select(Agent))).all()}
        contacts = (
            await session.scalars(
                select(Contact).where(
                    col(Contact.started_at) >= start - timedelta(days=1), col(Contact.started_at) < end
                )
            )
        ).all()
    facts = [
        ContactFacts(
            queue=queues[c.queue_id].name if c.queue_id in queues else DEFAULT_QUEUE,
            agent=agents.get(c.agent_id) if c.agent_id is not None else None,
            started_at=c.started_at,
            answered_at=c.answered_at,
            ended_at=c.ended_at,
            wait_seconds=c.wait_seconds,
            handle_seconds=c.handle_seconds,
            disposition=c.disposition,
        )
        for c in contacts
    ]
    thresholds = {q.name: float(q.service_level_seconds) for q in queues.values()}
    return facts, thresholds


@router.route(
    "GET",
    "/api/v1/wallboard/history",
    summary="Offered, answered, abandoned and service level per interval over the last hours",
    roles=SUPERVISORS,
    query=HistoryQuery,
)
async def wallboard_history(request: web.Request, query: HistoryQuery) -> dict[str, Any]:
    end = now(request)
    step = timedelta(minutes=query.minutes)
    # Whole intervals, the last one holding now.
    seconds = step.total_seconds()
    end = datetime.fromtimestamp((math.floor(end.timestamp() / seconds) + 1) * seconds, UTC)
    start = end - timedelta(hours=query.hours)
    facts, thresholds = await _facts(request, start, end)
    if query.queue:
        facts = [f for f in facts if f.queue == query.queue]
    threshold = thresholds.get(query.queue or "", 20.0)
    return history(facts, start, end, step, threshold)


class WhatIfQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agents: int = Field(ge=1, le=2000)
    arrival_rate_per_hour: float = Field(gt=0, le=100_000)
    aht: float = Field(gt=0, le=36_000, description="average handle time, seconds")
    threshold: float = Field(default=20.0, ge=0, le=86_400)
    seed: int = Field(default=1, ge=0)


@router.route(
    "GET",
    "/api/v1/wallboard/what-if",
    summary="Predicted service level for a staffing and arrival rate: Erlang C and the routing simulator",
    roles=SUPERVISORS,
    query=WhatIfQuery,
)
async def what_if(request: web.Request, query: WhatIfQuery) -> dict[str, Any]:
    rate = query.arrival_rate_per_hour / 3600
    traffic = rate * query.aht
    duration = min(8 * 3600.0, _MAX_SIMULATED_CALLS / rate)
    config = SimulationConfig(
        agents=query.agents,
        arrival_rate=rate,
        aht=query.aht,
        duration=duration,
        seed=query.seed,
        threshold=query.threshold,
    )
    # The simulator runs its own event loop; a thread keeps this one free for the live pages.
    report = await asyncio.to_thread(simulate, config)
    return {
        "agents": query.agents,
        "arrival_rate_per_hour": query.arrival_rate_per_hour,
        "aht": query.aht,
        "threshold": query.threshold,
        "traffic_erlangs": traffic,
        "erlang_c_service_level": service_level(query.agents, traffic, query.aht, query.threshold),
        "simulated": dataclasses.asdict(report),
        "simulated_seconds": duration,
    }


class DailyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: dt.date | None = Field(default=None, description="the UTC day (default: today)")
    by: Literal["queue", "agent"] = "queue"
    format: Literal["json", "csv"] = "json"


_QUEUE_COLUMNS = [
    "queue", "offered", "answered", "answered_within_threshold", "abandoned", "service_level",
    "average_speed_of_answer", "average_handle_time", "abandonment_rate",
]  # fmt: skip
_AGENT_COLUMNS = ["agent", "handled", "completed", "total_handle_seconds", "average_handle_time", "dispositions"]


@router.route(
    "GET",
    "/api/v1/reports/daily",
    summary="A day's figures per queue or per agent, as JSON or CSV",
    roles=SUPERVISORS,
    query=DailyQuery,
)
async def daily_report(request: web.Request, query: DailyQuery) -> Any:
    day = query.date or now(request).date()
    if day > now(request).date() + timedelta(days=1):
        raise InvalidInput("that day has not happened yet", field="date")
    start = datetime.combine(day, time(), UTC)
    end = start + timedelta(days=1)
    facts, thresholds = await _facts(request, start, end)
    facts = [f for f in facts if start <= f.started_at < end]
    if query.by == "queue":
        rows: list[dict[str, Any]] = [dataclasses.asdict(r) for r in queue_report(facts, thresholds)]
        columns = _QUEUE_COLUMNS
    else:
        rows = [dataclasses.asdict(r) for r in agent_report(facts)]
        for row in rows:
            row["dispositions"] = " ".join(f"{k}:{v}" for k, v in sorted(row["dispositions"].items()))
        columns = _AGENT_COLUMNS
    if query.format == "json":
        return {"date": day.isoformat(), "by": query.by, "rows": rows}
    body = to_csv(columns, ([row[c] for c in columns] for row in rows))
    return web.Response(
        text=body,
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="report-{query.by}-{day.isoformat()}.csv"'},
    )
