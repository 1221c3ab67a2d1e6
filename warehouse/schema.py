"""Warehouse tables (interfaces.md), created with SQLAlchemy Core on SQLite or PostgreSQL."""
from __future__ import annotations

from sqlalchemy import (
                        BigInteger,
                        Boolean,
                        Column,
                        Date,
                        DateTime,
                        Float,
                        Index,
                        Integer,
                        MetaData,
                        String,
                        Table,
                        Text,
                        UniqueConstraint,
                        text,
)

metadata = MetaData()

kpi_actual = Table(
    "kpi_actual", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kpi_id", String(64), nullable=False),
    Column("period", String(16), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("value", Float, nullable=False),
    Column("numerator", Float),
    Column("denominator", Float),
    Column("revision", Integer, nullable=False),
    Column("is_current", Boolean, nullable=False),
    Column("source", String(64), nullable=False),
    Column("lineage", Text, nullable=False),
    Column("flow_run_id", String(64), nullable=False),
    Column("collected_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kpi_id", "period", "scope", "revision", name="uq_kpi_actual_revision"),
)
# At most one current row per figure, enforced by the database itself.
Index("uq_kpi_actual_current", kpi_actual.c.kpi_id, kpi_actual.c.period, kpi_actual.c.scope, unique=True,
      sqlite_where=text("is_current"), postgresql_where=text("is_current"))

kpi_evaluation = Table(
    "kpi_evaluation", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kpi_id", String(64), nullable=False),
    Column("fiscal_year", Integer, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("actual", Float),
    Column("target", Float),
    Column("grade", String(1)),
    Column("status", String(16), nullable=False),
    Column("projected", Float),
    Column("prior_year_actual", Float),
    Column("flow_run_id", String(64), nullable=False),
    Column("evaluated_at", DateTime(timezone=True), nullable=False),
    Column("data_as_of", Date),
    Column("projection_method", Text),
    Column("scope", String(16), nullable=False, server_default="city"),   # city, or a ward / 団体コード
    Column("rule", Text),                                                 # the grading rule, one sentence
    Column("target_low", Float),                                          # a band's bounds (target is null)
    Column("target_high", Float),
    Index("ix_kpi_evaluation_latest", "kpi_id", "fiscal_year", "scope", "as_of", "id"),
)

quarantine = Table(
    "quarantine", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("location", String(255), nullable=False),   # file name or API page
    Column("item", String(255), nullable=False),       # line number or record position/id
    Column("reason_code", String(64), nullable=False),
    Column("reason", Text, nullable=False),            # in Japanese, for the operator
    Column("value", Text, nullable=False),             # the offending non-personal value, if any
    Column("rows", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("flow_run_id", String(64), nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("source", "location", "content_hash", "item", "reason_code", name="uq_quarantine_row"),
)

lineage = Table(
    "lineage", metadata,
    Column("lineage_id", String(64), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("detail", Text, nullable=False),            # JSON: files with sha256 and rows, or the crawl
    Column("flow_run_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

ingest_state = Table(
    "ingest_state", metadata,
    Column("source", String(64), primary_key=True),
    Column("lineage_id", String(64), nullable=False),
    Column("records", Integer, nullable=False),
    Column("max_event_date", Date),
    Column("as_of", Date, nullable=False),
    Column("flow_run_id", String(64), nullable=False),
    Column("landed_at", DateTime(timezone=True), nullable=False),
)

# One row per delivered file whose content is in the current figures: what lets a night skip it.
ingest_file = Table(
    "ingest_file", metadata,
    Column("source", String(64), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("encoding", String(16), nullable=False),
    Column("flow_run_id", String(64), nullable=False),
    Column("landed_at", DateTime(timezone=True), nullable=False),
    # Empty for a file landed before revision 0004: the next night hashes it again and fills them.
    Column("ctime_ns", BigInteger),
    Column("inode", BigInteger),
)

source_run = Table(
    "source_run", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flow_run_id", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("status", String(16), nullable=False),      # landed | rejected | failed
    Column("as_of", Date, nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_quarantined", Integer, nullable=False),
    Column("figures", Integer, nullable=False),
    Column("revisions_added", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Index("ix_source_run_source", "source", "finished_at"),
)

# One row per alert condition ever raised: what state was last announced.
alert_state = Table(
    "alert_state", metadata,
    Column("alert_key", String(200), primary_key=True),
    Column("scope", String(200), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("status", String(16), nullable=False),      # firing | resolved
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("flow_run_id", String(64), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

# One row per change of state and channel; delivered_at stays empty until the channel took it.
alert_outbox = Table(
    "alert_outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_key", String(200), nullable=False),
    Column("change", String(16), nullable=False),      # firing | resolved
    Column("channel", String(32), nullable=False),     # a hash of the channel URL, never the URL
    Column("severity", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("flow_run_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    Index("ix_alert_outbox_pending", "delivered_at", "channel"),
)

# At most one nightly run writes to a warehouse at a time; a killed run's lock is taken over.
run_lock = Table(
    "run_lock", metadata,
    Column("name", String(32), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
)

# One row per nightly run that got the warehouse: started, then finished with its outcome. What the
# watchdog (outside the nightly run) reads to tell a night that did not happen.
night_run = Table(
    "night_run", metadata,
    Column("flow_run_id", String(64), primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("outcome", String(16)),                     # completed | failed (per source: source_run)
    Index("ix_night_run_finished", "finished_at"),
)

# A fiscal year's table as it was published (`jisseki publish`): never rewritten, so later revisions of the
# figures are shown beside it, not instead of it. One row per indicator, fiscal year and scope.
published_grade = Table(
    "published_grade", metadata,
    Column("kpi_id", String(64), primary_key=True),
    Column("fiscal_year", Integer, primary_key=True),
    Column("scope", String(16), primary_key=True),
    Column("department", String(200), nullable=False),
    Column("actual", Float),
    Column("target", Float),
    Column("target_low", Float),
    Column("target_high", Float),
    Column("grade", String(1)),
    Column("status", String(16), nullable=False),
    Column("as_of", Date, nullable=False),             # the evaluation's as-of
    Column("data_as_of", Date),
    Column("flow_run_id", String(64), nullable=False),  # the run whose evaluation this is
    Column("rule", Text),
    Column("commentary", Text, nullable=False),         # 所見 as it stood when published ("" without one)
    Column("published_at", DateTime(timezone=True), nullable=False),
)

# The department's 所見 (contract 6) on a manual indicator's year, as the current entry has it: written in the
# same transaction as the figure, so a changed 所見 is stored even when the value is not changed.
kpi_commentary = Table(
    "kpi_commentary", metadata,
    Column("kpi_id", String(64), primary_key=True),
    Column("fiscal_year", Integer, primary_key=True),
    Column("commentary", Text, nullable=False),
    Column("source", String(64), nullable=False),
    Column("flow_run_id", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
