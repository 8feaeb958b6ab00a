"""Pieces every API module uses: path ids, paging, the acting user and "now"."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from contact_center.actors import Actor
from contact_center.errors import NotFound, Unauthenticated
from contact_center.models import ActorKind
from contact_center.services.users import SignedIn
from contact_center.web.auth import current_user
from contact_center.web.keys import CLOCK

__all__ = ["Out", "Page", "acting_user", "now", "path_id"]


class Out(BaseModel):
    """Base of response models: read straight from table rows."""

    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel):
    """Paging for list endpoints."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


def path_id(request: web.Request, name: str, resource: str) -> int:
    """Read an integer id from the path; anything else is simply not found."""
    raw = request.match_info[name]
    # Ids are 32-bit integers in the store: a longer number names nothing (rather than failing in the database).
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) >= 2**31:
        raise NotFound(f"{resource} {raw} does not exist", resource=resource)
    return int(raw)


def now(request: web.Request) -> datetime:
    """Return the application's clock reading."""
    return request.app[CLOCK].now()


async def acting_user(request: web.Request) -> tuple[SignedIn, Actor]:
    """Return the signed-in user and the actor their changes are recorded under."""
    signed_in = await current_user(request)
    if signed_in is None:
        raise Unauthenticated("sign in first")
    user = signed_in.user
    return signed_in, Actor(ActorKind.USER, user.id, user.display_name)
