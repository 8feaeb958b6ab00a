"""Column types shared by every table: aware UTC datetimes and enums stored as plain strings."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["UTCDateTime", "enum_type"]


class UTCDateTime(TypeDecorator[datetime]):
    """Store instants in UTC and hand them back timezone-aware on every database.

    SQLite has no timezone-aware type and would return naive values, which compare unequal to aware ones.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the case store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_type(enum_class: type[enum.Enum]) -> sa.Enum:
    """Store an enum's values as VARCHAR(32) so adding a member needs no database migration."""

    def values(members: Any) -> list[str]:
        return [member.value for member in members]

    return sa.Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=values,
    )
