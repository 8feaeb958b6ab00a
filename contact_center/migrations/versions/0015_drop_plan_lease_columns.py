"""Planned days lose their own lease columns: the day's planning lease is a row of `leases` since 0012

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import contact_center.models.base
from alembic import op


revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("schedule_plans") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")


def downgrade() -> None:
    with op.batch_alter_table("schedule_plans") as batch:
        batch.add_column(sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.add_column(
            sa.Column("lease_until", contact_center.models.base.UTCDateTime(timezone=True), nullable=True)
        )
