"""The users page for admins: who can sign in, in which role, as which agent; new users and password resets.

An agent added on the agents page signs in once an admin gives them a user here. Disabling a user ends their
sessions at the next request (`load_session` refuses a disabled user) and takes their agent out of routing; a
password set here ends every session of the user, as a password change does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlmodel import col, select

from contact_center.errors import DomainError, InvalidInput
from contact_center.models import Agent, Role, User
from contact_center.services.users import SignedIn, do_change_password, do_create_user
from contact_center.web.auth import ADMINS, authorize_page, read_form
from contact_center.web.form_fields import whole_number
from contact_center.web.keys import CLOCK, DATABASE, DISPATCHER

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/users", name="users")
async def users_page(request: web.Request) -> web.Response:
    """List the users and offer the form that adds one."""
    signed_in = await authorize_page(request, ADMINS)
    return await _render(request, signed_in)


@routes.post("/users")
async def create_user(request: web.Request) -> web.Response:
    """Add a user who can sign in."""
    signed_in = await authorize_page(request, ADMINS)
    form = await read_form(request, signed_in)
    try:
        password = _password(form)
        async with request.app[DATABASE].transaction() as session:
            await do_create_user(
                session,
                username=form.get("username", ""),
                password=password,
                role=_role(form),
                display_name=form.get("display_name", "").strip() or None,
                agent_id=_agent(form),
                now=request.app[CLOCK].now(),
            )
    except DomainError as exc:
        return await _render(request, signed_in, error=str(exc), typed=form)
    raise web.HTTPSeeOther("/users")


@routes.post("/users/{user_id:\\d{1,9}}")
async def update_user(request: web.Request) -> web.Response:
    """Change a user's role, name or agent, disable or enable them, or set a new password."""
    signed_in = await authorize_page(request, ADMINS)
    form = await read_form(request, signed_in)
    user_id = int(request.match_info["user_id"])
    try:
        role, agent_id, active = _role(form), _agent(form), form.get("active") == "on"
        if user_id == signed_in.user.id and (not active or role is not Role.ADMIN):
            # An admin locking themselves out could leave nobody to undo it.
            raise InvalidInput("you cannot disable yourself or give up your own admin role", field="active")
        async with request.app[DATABASE].transaction() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise web.HTTPNotFound(reason=f"user {user_id} does not exist")
            if agent_id is not None and await session.get(Agent, agent_id) is None:
                raise InvalidInput(f"agent {agent_id} does not exist", field="agent_id")
            affected = {agent for agent in (user.agent_id, agent_id) if agent is not None}
            user.role, user.active, user.agent_id = role, active, agent_id
            user.display_name = form.get("display_name", "").strip() or user.username
            if form.get("password"):
                await do_change_password(session, user_id, None, _password(form), request.app[CLOCK].now())
    except DomainError as exc:
        return await _render(request, signed_in, error=str(exc))
    # A disabled user's agent leaves routing (its ringing offers go to others); enabled again, it comes back.
    if affected:
        await request.app[DISPATCHER].sync_agents(sorted(affected))
    raise web.HTTPSeeOther(f"/users#user-{user_id}")


def _role(form: Mapping[str, str]) -> Role:
    try:
        return Role(form.get("role", ""))
    except ValueError:
        raise InvalidInput(f"choose a role: {', '.join(r.value for r in Role)}", field="role") from None


def _agent(form: Mapping[str, str]) -> int | None:
    value = form.get("agent_id", "")
    return whole_number(value, "agent", 1, 2**31 - 1) if value else None


def _password(form: Mapping[str, str]) -> str:
    password = form.get("password", "")
    if password != form.get("password_again", ""):
        raise InvalidInput("the two passwords differ", field="password")
    return password


async def _render(
    request: web.Request, signed_in: SignedIn, *, error: str | None = None, typed: Mapping[str, str] | None = None
) -> web.Response:
    async with request.app[DATABASE].transaction() as session:
        users = list((await session.scalars(select(User).order_by(col(User.username)))).all())
        agents = list((await session.scalars(select(Agent).order_by(col(Agent.name)))).all())
    # Never echo a password back into the page.
    form = {key: value for key, value in (typed or {}).items() if not key.startswith("password")}
    context: dict[str, Any] = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "users": users,
        "agents": agents,
        "agent_names": {agent.id: agent.name for agent in agents},
        "roles": [role.value for role in Role],
        "error": error,
        "form": form,
    }
    return aiohttp_jinja2.render_template("users.html", request, context, status=400 if error else 200)
