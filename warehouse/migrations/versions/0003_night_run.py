"""night_run: one row per nightly run that got the warehouse, from its start to its end, so that a watch
outside the nightly run (`jisseki watchdog`) can tell a night that did not happen from one that did."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_night_run"
down_revision = "0002_future_evaluations"


def upgrade() -> None:
    op.create_table(
        "night_run",
        sa.Column("flow_run_id", sa.String(64), primary_key=True),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(16)),
    )
    op.create_index("ix_night_run_finished", "night_run", ["finished_at"])
