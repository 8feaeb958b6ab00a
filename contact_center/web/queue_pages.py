"""The queues page for supervisors: the skills routing knows, and the queues with what they require and promise.

Plain forms, like the agents page. A queue's changes apply to contacts routed from then on (each process re-reads
queues within seconds, its own edits at once); contacts already waiting keep the plan they were given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.errors import DomainError
from contact_center.models import Channel, Queue, Skill
from contact_center.services.agents import QueueFields, do_create_queue, do_create_skill, do_update_queue, get_queue
from contact_center.services.users import SignedIn
from contact_center.web.auth import SUPERVISORS, authorize_page, read_form
from contact_center.web.form_fields import levels_from, whole_number
from contact_center.web.keys import DATABASE

__all__ = ["routes"]

routes = web.RouteTableDef()

_CHANNELS = [channel.value for channel in Channel]


@routes.get("/queues", name="queues")
async def queues_page(request: web.Request) -> web.Response:
    """List skills and queues, with the forms that add one of each."""
    signed_in = await authorize_page(request, SUPERVISORS)
    return await _render_list(request, signed_in)


@routes.post("/queues/skills")
async def create_skill(request: web.Request) -> web.Response:
    """Define a skill agents can have and queues can require."""
    signed_in = await authorize_page(request, SUPERVISORS)
    form = await read_form(request, signed_in)
    try:
        async with request.app[DATABASE].transaction() as session:
            await do_create_skill(session, form.get("name", "").strip(), form.get("description", ""))
    except DomainError as exc:
        return await _render_list(request, signed_in, error=str(exc), typed_skill=form)
    raise web.HTTPSeeOther("/queues")


@routes.post("/queues")
async def create_queue(request: web.Request) -> web.Response:
    """Add a queue from the page's form."""
    signed_in = await authorize_page(request, SUPERVISORS)
    form = await read_form(request, signed_in)
    try:
        fields = _queue_form(form)
        async with request.app[DATABASE].transaction() as session:
            queue = await do_create_queue(session, form.get("name", "").strip(), fields)
    except DomainError as exc:
        return await _render_list(request, signed_in, error=str(exc), typed=form)
    raise web.HTTPSeeOther(f"/queues/{queue.id}")


@routes.get("/queues/{queue_id:\\d{1,9}}", name="queue")
async def queue_page(request: web.Request) -> web.Response:
    """Show one queue's settings in a form."""
    signed_in = await authorize_page(request, SUPERVISORS)
    return await _render_queue(request, signed_in, int(request.match_info["queue_id"]))


@routes.post("/queues/{queue_id:\\d{1,9}}")
async def update_queue(request: web.Request) -> web.Response:
    """Save a queue's settings."""
    signed_in = await authorize_page(request, SUPERVISORS)
    form = await read_form(request, signed_in)
    queue_id = int(request.match_info["queue_id"])
    try:
        fields = _queue_form(form)
        async with request.app[DATABASE].transaction() as session:
            await do_update_queue(session, await get_queue(session, queue_id), fields)
    except DomainError as exc:
        return await _render_queue(request, signed_in, queue_id, error=str(exc), typed=form)
    raise web.HTTPSeeOther(f"/queues/{queue_id}?saved=1")


def _queue_form(form: Mapping[str, str]) -> QueueFields:
    """Read the form's fields; the target is typed in percent (80), stored as a share (0.8)."""
    return QueueFields(
        description=form.get("description", "").strip()[:500],
        channels=[channel for channel in _CHANNELS if form.get(f"channel_{channel}") == "on"],
        required_skills=levels_from(form, "skill_", "required level of"),
        service_level_seconds=whole_number(form.get("service_level_seconds", ""), "service level seconds", 1, 86_400),
        service_level_target=whole_number(form.get("service_level_percent", ""), "service level percent", 1, 100) / 100,
    )


async def _skills(session: AsyncSession) -> list[Skill]:
    return list((await session.scalars(select(Skill).order_by(col(Skill.name)))).all())


async def _render_list(
    request: web.Request,
    signed_in: SignedIn,
    *,
    error: str | None = None,
    typed: Mapping[str, str] | None = None,
    typed_skill: Mapping[str, str] | None = None,
) -> web.Response:
    async with request.app[DATABASE].transaction() as session:
        queues = list((await session.scalars(select(Queue).order_by(col(Queue.name)))).all())
        skills = await _skills(session)
    context: dict[str, Any] = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "queues": queues,
        "skills": skills,
        "channels": _CHANNELS,
        "error": error,
        "form": dict(typed) if typed is not None else _defaults(),
        "skill_form": dict(typed_skill or {}),
    }
    return aiohttp_jinja2.render_template("queues.html", request, context, status=400 if error else 200)


async def _render_queue(
    request: web.Request,
    signed_in: SignedIn,
    queue_id: int,
    *,
    error: str | None = None,
    typed: Mapping[str, str] | None = None,
) -> web.Response:
    async with request.app[DATABASE].transaction() as session:
        queue = await get_queue(session, queue_id)
        skills = await _skills(session)
    context: dict[str, Any] = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "queue": queue,
        "skills": skills,
        "channels": _CHANNELS,
        "error": error,
        "saved": error is None and request.query.get("saved") == "1",
        "form": dict(typed) if typed is not None else _stored(queue),
    }
    return aiohttp_jinja2.render_template("queue_edit.html", request, context, status=400 if error else 200)


def _defaults() -> dict[str, str]:
    return {"service_level_seconds": "20", "service_level_percent": "80", **{f"channel_{c}": "on" for c in _CHANNELS}}


def _stored(queue: Queue) -> dict[str, str]:
    return {
        "description": queue.description,
        "service_level_seconds": str(queue.service_level_seconds),
        "service_level_percent": str(round(queue.service_level_target * 100)),
        **{f"channel_{channel}": "on" for channel in queue.channels},
        **{f"skill_{name}": str(level) for name, level in queue.required_skills.items()},
    }
