"""Web chat: chat sessions and their numbered messages; retention offers per customer tier

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import contact_center.models.base
from alembic import op


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retention_offers",
        sa.Column(
            "tier", sa.Enum("low", "sub", "potential", "high", name="customertier", native_enum=False, length=32), nullable=False
        ),
        sa.Column("offer", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("updated_at", contact_center.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tier"),
    )
    op.create_table(
        "chat_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.Enum(native_enum=False, length=32), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("close_reason", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("customer_left_at", contact_center.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", contact_center.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", contact_center.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", contact_center.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_sessions_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_sessions_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_sessions_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_sessions_customer_left_at"), ["customer_left_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_sessions_status"), ["status"], unique=False)
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender", sa.Enum(native_enum=False, length=32), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", contact_center.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chat_sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chat_id", "seq", name="uq_chat_messages_chat_id_seq"),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_messages_chat_id"), ["chat_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_messages_chat_id"))
    op.drop_table("chat_messages")
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_sessions_status"))
        batch_op.drop_index(batch_op.f("ix_chat_sessions_customer_left_at"))
        batch_op.drop_index(batch_op.f("ix_chat_sessions_contact_id"))
        batch_op.drop_index(batch_op.f("ix_chat_sessions_case_id"))
        batch_op.drop_index(batch_op.f("ix_chat_sessions_agent_id"))
    op.drop_table("chat_sessions")
    op.drop_table("retention_offers")
