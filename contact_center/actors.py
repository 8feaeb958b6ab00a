"""Who did something: every timeline event and state change names its actor."""

from __future__ import annotations

from dataclasses import dataclass

from contact_center.models.cases import ActorKind

__all__ = ["SYSTEM", "Actor"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: int | None = None
    name: str | None = None


SYSTEM = Actor(ActorKind.SYSTEM, None, "system")
