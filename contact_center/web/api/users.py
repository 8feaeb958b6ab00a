"""Signing in and out over the API, and user administration."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from contact_center.errors import NotFound, Unauthenticated
from contact_center.models import Role, User
from contact_center.services.users import authenticate, do_change_password, do_create_user
from contact_center.web.api.params import Out, acting_user, now, path_id
from contact_center.web.auth import ADMINS, STAFF, sign_in, sign_out
from contact_center.web.keys import DATABASE, DISPATCHER
from contact_center.web.limits import check_login, count_failed_login
from contact_center.web.router import ApiRouter

__all__ = ["router"]

router = ApiRouter("auth")


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(Out):
    id: int
    username: str
    display_name: str
    role: Role
    agent_id: int | None
    active: bool
    created_at: datetime


class SignedInOut(BaseModel):
    user: UserOut
    csrf_token: str


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    role: Role
    display_name: str | None = Field(default=None, max_length=200)
    agent_id: int | None = None


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    active: bool | None = None
    display_name: str | None = Field(default=None, max_length=200)


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


@router.route(
    "POST",
    "/api/v1/auth/login",
    summary="Sign in; sets the session cookie, returns the CSRF token",
    roles=None,
    body=LoginIn,
)
async def login(request: web.Request, body: LoginIn) -> web.Response:
    await check_login(request, body.username)
    async with request.app[DATABASE].transaction() as session:
        user = await authenticate(session, body.username, body.password)
    if user is None:
        await count_failed_login(request, body.username)
        raise Unauthenticated("wrong username or password")
    response = web.json_response({})
    csrf = await sign_in(request, response, user.id or 0)
    response.text = SignedInOut(user=UserOut.model_validate(user), csrf_token=csrf).model_dump_json()
    return response


@router.route("POST", "/api/v1/auth/logout", summary="Sign out", roles=STAFF)
async def logout(request: web.Request) -> web.Response:
    response = web.json_response({"signed_out": True})
    await sign_out(request, response)
    return response


@router.route("GET", "/api/v1/auth/me", summary="Who is signed in", roles=STAFF, response=SignedInOut)
async def me(request: web.Request) -> SignedInOut:
    signed_in, _ = await acting_user(request)
    return SignedInOut(user=UserOut.model_validate(signed_in.user), csrf_token=signed_in.session.csrf_token)


@router.route(
    "POST",
    "/api/v1/auth/password",
    summary="Change your password; ends all your sessions",
    roles=STAFF,
    body=PasswordIn,
)
async def change_password(request: web.Request, body: PasswordIn) -> web.Response:
    signed_in, _ = await acting_user(request)
    async with request.app[DATABASE].transaction() as session:
        await do_change_password(
            session, signed_in.user.id or 0, body.current_password, body.new_password, now(request)
        )
    response = web.json_response({"password_changed": True})
    response.del_cookie("cc_session", path="/")
    return response


@router.route("GET", "/api/v1/users", summary="List users", roles=ADMINS, response=list[UserOut])
async def list_users(request: web.Request) -> list[User]:
    async with request.app[DATABASE].transaction() as session:
        return list((await session.scalars(select(User).order_by(col(User.id)))).all())


@router.route("POST", "/api/v1/users", summary="Create a user", roles=ADMINS, body=UserIn, response=UserOut, status=201)
async def create_user(request: web.Request, body: UserIn) -> User:
    async with request.app[DATABASE].transaction() as session:
        return await do_create_user(session, now=now(request), **body.model_dump())


@router.route(
    "PATCH",
    "/api/v1/users/{user_id}",
    summary="Change a user's role or disable them",
    roles=ADMINS,
    body=UserPatch,
    response=UserOut,
)
async def update_user(request: web.Request, body: UserPatch) -> User:
    user_id = path_id(request, "user_id", "user")
    async with request.app[DATABASE].transaction() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"user {user_id} does not exist", resource="user")
        for name, value in body.model_dump(exclude_unset=True).items():
            if value is not None:
                setattr(user, name, value)
    if body.active is not None and user.agent_id is not None:
        # A disabled user's agent leaves routing (its ringing offers go to others); enabled again, it comes back.
        await request.app[DISPATCHER].sync_agents([user.agent_id])
    return user
