"""published_grade: a fiscal year's table frozen by `jisseki publish` (figures, grades, the as-of and the flow
run of the evaluation, the department's 所見), never rewritten by later revisions; kpi_commentary: the 所見
of the current manual entries (contract 6's optional column), landed with their figures."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_published_grade"
down_revision = "0005_evaluation_scope"


def upgrade() -> None:
    op.create_table(
        "published_grade",
        sa.Column("kpi_id", sa.String(64), primary_key=True),
        sa.Column("fiscal_year", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("department", sa.String(200), nullable=False),
        sa.Column("actual", sa.Float),
        sa.Column("target", sa.Float),
        sa.Column("target_low", sa.Float),
        sa.Column("target_high", sa.Float),
        sa.Column("grade", sa.String(1)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("data_as_of", sa.Date),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("rule", sa.Text),
        sa.Column("commentary", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "kpi_commentary",
        sa.Column("kpi_id", sa.String(64), primary_key=True),
        sa.Column("fiscal_year", sa.Integer, primary_key=True),
        sa.Column("commentary", sa.Text, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
