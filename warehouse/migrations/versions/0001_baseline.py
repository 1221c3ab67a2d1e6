"""Baseline: exactly the tables jisseki 0.1.0 created with metadata.create_all.

Written out, never derived from warehouse.schema: the model will change, this revision must not.
A warehouse of 0.1.0 (these tables, no alembic_version) is stamped here instead of running it.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "kpi_actual",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kpi_id", sa.String(64), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("numerator", sa.Float),
        sa.Column("denominator", sa.Float),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("lineage", sa.Text, nullable=False),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kpi_id", "period", "scope", "revision", name="uq_kpi_actual_revision"),
    )
    op.create_index("uq_kpi_actual_current", "kpi_actual", ["kpi_id", "period", "scope"], unique=True,
                    sqlite_where=sa.text("is_current"), postgresql_where=sa.text("is_current"))

    op.create_table(
        "kpi_evaluation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kpi_id", sa.String(64), nullable=False),
        sa.Column("fiscal_year", sa.Integer, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("actual", sa.Float),
        sa.Column("target", sa.Float),
        sa.Column("grade", sa.String(1)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("projected", sa.Float),
        sa.Column("prior_year_actual", sa.Float),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data_as_of", sa.Date),
        sa.Column("projection_method", sa.Text),
    )
    op.create_index("ix_kpi_evaluation_latest", "kpi_evaluation", ["kpi_id", "fiscal_year", "as_of", "id"])

    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("location", sa.String(255), nullable=False),
        sa.Column("item", sa.String(255), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("source", "location", "content_hash", "item", "reason_code", name="uq_quarantine_row"),
    )

    op.create_table(
        "lineage",
        sa.Column("lineage_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "ingest_state",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("lineage_id", sa.String(64), nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("max_event_date", sa.Date),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("landed_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "ingest_file",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("encoding", sa.String(16), nullable=False),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("landed_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "source_run",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("rows_quarantined", sa.Integer, nullable=False),
        sa.Column("figures", sa.Integer, nullable=False),
        sa.Column("revisions_added", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_source_run_source", "source_run", ["source", "finished_at"])

    op.create_table(
        "alert_state",
        sa.Column("alert_key", sa.String(200), primary_key=True),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_key", sa.String(200), nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_alert_outbox_pending", "alert_outbox", ["delivered_at", "channel"])

    op.create_table(
        "run_lock",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    )
