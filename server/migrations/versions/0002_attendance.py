"""Attendance: kiosks, attendance records, kiosk idempotency keys, badges, gallery events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 19:52:03.236567
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gallery_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("gallery_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gallery_events_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "kiosks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("app_version", sa.String(length=40), nullable=False),
        sa.Column("model_id", sa.String(length=100), nullable=False),
        sa.Column("gallery_version", sa.BigInteger(), nullable=False),
        sa.Column("queue_depth", sa.Integer(), nullable=False),
        sa.Column("camera_state", sa.String(length=20), nullable=False),
        sa.Column("clock_drift_s", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["admins.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "attendance_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("similarity", sa.Double(), nullable=True),
        sa.Column("margin", sa.Double(), nullable=True),
        sa.Column("kiosk_id", sa.Uuid(), nullable=True),
        sa.Column("device_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("server_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clock_drift_flag", sa.Boolean(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("reviewed_by_id", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("accuracy_m", sa.Double(), nullable=True),
        sa.Column("location_flag", sa.String(length=20), nullable=False),
        sa.Column("evidence_nonce", sa.LargeBinary(length=12), nullable=True),
        sa.Column("evidence_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("evidence_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["admins.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reviewed_by_id"], ["admins.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attendance_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attendance_records_kiosk_id"), ["kiosk_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_attendance_records_meeting_id"), ["meeting_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_attendance_records_member_id"), ["member_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_attendance_records_status"), ["status"], unique=False)
        batch_op.create_index(
            "uq_attendance_one_approved",
            ["meeting_id", "member_id"],
            unique=True,
            sqlite_where=sa.text("status = 'approved'"),
            postgresql_where=sa.text("status = 'approved'"),
        )

    op.create_table(
        "badges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["issued_by_id"], ["admins.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("badges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_badges_member_id"), ["member_id"], unique=False)

    op.create_table(
        "kiosk_checkins",
        sa.Column("kiosk_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["record_id"], ["attendance_records.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("kiosk_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("kiosk_checkins")
    with op.batch_alter_table("badges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_badges_member_id"))

    op.drop_table("badges")
    with op.batch_alter_table("attendance_records", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_attendance_one_approved",
            sqlite_where=sa.text("status = 'approved'"),
            postgresql_where=sa.text("status = 'approved'"),
        )
        batch_op.drop_index(batch_op.f("ix_attendance_records_status"))
        batch_op.drop_index(batch_op.f("ix_attendance_records_member_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_records_meeting_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_records_kiosk_id"))

    op.drop_table("attendance_records")
    op.drop_table("kiosks")
    with op.batch_alter_table("gallery_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gallery_events_member_id"))

    op.drop_table("gallery_events")
