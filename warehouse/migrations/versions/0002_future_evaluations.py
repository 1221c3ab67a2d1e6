"""Removes evaluations made before the day they are about: as_of after the Japan-time date of evaluated_at.

`jisseki run --as-of <a future date>` made them (the release after 0.1.0 refuses such a date); as the
latest as-of they would head `status` and `report` for ever. Nothing else is removed. Not reversible:
the rows are gone (restore the backup taken before the upgrade to have them back).
"""
from __future__ import annotations

from alembic import op

revision = "0002_future_evaluations"
down_revision = "0001_baseline"

# The Japan-time (UTC+9, no daylight saving) calendar date of evaluated_at. SQLite holds it as the naive
# UTC text SQLAlchemy writes ("2026-04-20 14:59:59.999999"), cut to whole seconds because SQLite's date()
# rounds to milliseconds (that one would become 15:00, the next day in Japan); PostgreSQL as timestamptz,
# shifted from UTC explicitly, so the session's TimeZone setting does not matter.
JAPAN_DATE = {
    "sqlite": "date(substr(evaluated_at, 1, 19), '+9 hours')",
    "postgresql": "CAST((evaluated_at AT TIME ZONE 'UTC') + INTERVAL '9 hours' AS DATE)",
}


def upgrade() -> None:
    day = JAPAN_DATE[op.get_bind().dialect.name]
    op.execute(f"DELETE FROM kpi_evaluation WHERE as_of > {day}")
