"""The agents page for supervisors: who takes contacts, with which skills, languages, team and capacity.

Plain forms, no script, like the stock page: a refused form comes back with the reason and what was typed. Every
change is handed to routing at once (`Dispatcher.sync_agents`), as the API's changes are: a disabled agent's
ringing offers go to others, a new skill is used by the next decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.errors import DomainError, InvalidInput
from contact_center.models import Agent, Channel, Skill, Team, TeamKind
from contact_center.services.agents import (
    DEFAULT_CAPACITY,
    AgentFields,
    agent_skills,
    do_create_agent,
    do_create_team,
    do_set_agent_skills,
    do_update_agent,
    get_agent,
)
from contact_center.services.users import SignedIn
from contact_center.web.auth import SUPERVISORS, authorize_page, read_form
from contact_center.web.form_fields import levels_from, whole_number
from contact_center.web.keys import CLOCK, DATABASE, DISPATCHER

__all__ = ["routes"]

routes = web.RouteTableDef()

# The capacity fields the forms show, in this order: every channel a contact can come in on.
_CHANNELS = [channel.value for channel in Channel]
_MAX_CAPACITY = 50


@routes.get("/agents", name="agents")
async def agents_page(request: web.Request) -> web.Response:
    """List the agents and offer the form that adds one."""
    signed_in = await authorize_page(request, SUPERVISORS)
    return await _render_list(request, signed_in)


@routes.post("/agents")
async def create_agent(request: web.Request) -> web.Response:
    """Add an agent from the page's form."""
    signed_in = await authorize_page(request, SUPERVISORS)
    form = await read_form(request, signed_in)
    try:
        fields, levels = _agent_form(form, editing=False)
        async with request.app[DATABASE].transaction() as session:
            agent = await do_create_agent(session, fields, request.app[CLOCK].now())
            await do_set_agent_skills(session, agent, levels)
    except DomainError as exc:
        return await _render_list(request, signed_in, error=str(exc), typed=form)
    await request.app[DISPATCHER].sync_agents([agent.id or 0])
    raise web.HTTPSeeOther(f"/agents/{agent.id}")


@routes.post("/agents/teams")
async def create_team(request: web.Request) -> web.Response:
    """Add a team: our own staff, or (a partner named) an outsourced partner's."""
    signed_in = await authorize_page(request, SUPERVISORS)
    form = await read_form(request, signed_in)
    partner = form.get("partner", "").strip()
    try:
        async with request.app[DATABASE].transaction() as session:
            kind = TeamKind.OUTSOURCED if partner else TeamKind.IN_HOUSE
            await do_create_team(session, form.get("team_name", ""), kind, partner)
    except DomainError as exc:
        return await _render_list(request, signed_in, error=str(exc))
    raise web.HTTPSeeOther("/agents")


@routes.get("/agents/{agent_id:\\d{1,9}}", name="agent")
async def agent_page(request: web.Request) -> web.Response:
    """Show one agent's settings in a form."""
    signed_in = await authorize_page(request, SUPERVISORS)
    return await _render_agent(request, signed_in, int(request.match_info["agent_id"]))


@routes.post("/agents/{agent_id:\\d{1,9}}")
async def update_agent(request: web.Request) -> web.Response:
    """Save an agent's settings and skills; routing sees them at once."""
    signed_in = await authorize_page(request, SUPERVISORS)
    form = await read_form(request, signed_in)
    agent_id = int(request.match_info["agent_id"])
    try:
        fields, levels = _agent_form(form, editing=True)
        async with request.app[DATABASE].transaction() as session:
            agent = await get_agent(session, agent_id)
            await do_update_agent(session, agent, fields)
            await do_set_agent_skills(session, agent, levels)
    except DomainError as exc:
        return await _render_agent(request, signed_in, agent_id, error=str(exc), typed=form)
    await request.app[DISPATCHER].sync_agents([agent_id])
    raise web.HTTPSeeOther(f"/agents/{agent_id}?saved=1")


def _agent_form(form: Mapping[str, str], *, editing: bool) -> tuple[AgentFields, dict[str, int]]:
    """Read the form's fields; a bad one is an error naming it, as the API's are."""
    languages = [part.strip().lower() for part in form.get("languages", "").replace(";", ",").split(",")]
    languages = [language for language in languages if language]
    if not languages:
        raise InvalidInput("give at least one language, e.g. en", field="languages")
    team = form.get("team_id", "")
    fields = AgentFields(
        name=form.get("name", "").strip() or None,
        team_id=whole_number(team, "team", 1, 2**31 - 1) if team else None,
        languages=languages,
        capacity={
            channel: whole_number(form.get(f"capacity_{channel}", "0") or "0", f"{channel} capacity", 0, _MAX_CAPACITY)
            for channel in _CHANNELS
        },
        voice_blocks_others=form.get("voice_blocks_others") == "on",
    )
    if editing:
        if fields.name is None:
            raise InvalidInput("an agent needs a name", field="name")
        fields.active = form.get("active") == "on"
        fields.clear_team = not team
    else:
        fields.email = form.get("email", "").strip() or None
    return fields, levels_from(form, "skill_", "level of")


async def _choices(session: AsyncSession) -> dict[str, Any]:
    """What the agent forms offer: the defined skills, the teams, the channels."""
    skills = list((await session.scalars(select(Skill.name).order_by(col(Skill.name)))).all())
    teams = list((await session.scalars(select(Team).order_by(col(Team.name)))).all())
    return {"skills": skills, "teams": teams, "channels": _CHANNELS}


async def _render_list(
    request: web.Request, signed_in: SignedIn, *, error: str | None = None, typed: Mapping[str, str] | None = None
) -> web.Response:
    async with request.app[DATABASE].transaction() as session:
        agents = list((await session.scalars(select(Agent).order_by(col(Agent.name)))).all())
        levels = await agent_skills(session, [agent.id or 0 for agent in agents])
        choices = await _choices(session)
    teams = {team.id: team.name for team in choices["teams"]}
    states = await request.app[DISPATCHER].backend.get_agents([str(agent.id) for agent in agents])
    context = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "rows": [
            (agent, teams.get(agent.team_id), levels[agent.id or 0], str(state.activity) if state else "offline")
            for agent, state in zip(agents, states, strict=True)
        ],
        "error": error,
        # A refused form keeps what was typed; a fresh one starts from the defaults of a new agent.
        "form": dict(typed) if typed is not None else _defaults(),
        **choices,
    }
    return aiohttp_jinja2.render_template("agents.html", request, context, status=400 if error else 200)


async def _render_agent(
    request: web.Request,
    signed_in: SignedIn,
    agent_id: int,
    *,
    error: str | None = None,
    typed: Mapping[str, str] | None = None,
) -> web.Response:
    async with request.app[DATABASE].transaction() as session:
        agent = await get_agent(session, agent_id)
        levels = (await agent_skills(session, [agent_id]))[agent_id]
        choices = await _choices(session)
    context = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "agent": agent,
        "error": error,
        "saved": error is None and request.query.get("saved") == "1",
        "form": dict(typed) if typed is not None else _stored(agent, levels),
        **choices,
    }
    return aiohttp_jinja2.render_template("agent_edit.html", request, context, status=400 if error else 200)


def _defaults() -> dict[str, str]:
    """The new-agent form's fields: what `do_create_agent` gives an agent the form leaves alone."""
    return {
        "languages": "en",
        "voice_blocks_others": "on",
        **{f"capacity_{channel}": str(DEFAULT_CAPACITY.get(channel, 0)) for channel in _CHANNELS},
    }


def _stored(agent: Agent, levels: Mapping[str, int]) -> dict[str, str]:
    """The form's fields as the agent stands (a checkbox's field is present only when it is ticked)."""
    form = {
        "name": agent.name,
        "team_id": str(agent.team_id or ""),
        "languages": ", ".join(agent.languages),
        **{f"capacity_{channel}": str(agent.capacity.get(channel, 0)) for channel in _CHANNELS},
        **{f"skill_{name}": str(level) for name, level in levels.items()},
    }
    if agent.voice_blocks_others:
        form["voice_blocks_others"] = "on"
    if agent.active:
        form["active"] = "on"
    return form
