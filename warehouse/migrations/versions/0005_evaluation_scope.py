"""kpi_evaluation.scope, rule, target_low and target_high: an indicator is graded per ward (or 団体コード) as
well as city-wide, against a band as well as one number, and each verdict keeps the grading rule it was made
by. Evaluations made before this revision are city-wide ones against a single target."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_evaluation_scope"
down_revision = "0004_ingest_file_stat"


def upgrade() -> None:
    with op.batch_alter_table("kpi_evaluation") as batch:
        batch.add_column(sa.Column("scope", sa.String(16), nullable=False, server_default="city"))
        batch.add_column(sa.Column("rule", sa.Text))
        batch.add_column(sa.Column("target_low", sa.Float))
        batch.add_column(sa.Column("target_high", sa.Float))
    op.drop_index("ix_kpi_evaluation_latest", table_name="kpi_evaluation")
    op.create_index("ix_kpi_evaluation_latest", "kpi_evaluation", ["kpi_id", "fiscal_year", "scope", "as_of", "id"])
