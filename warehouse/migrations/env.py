"""Alembic's environment: always online, on the connection the runner passes in `config.attributes`
(warehouse/migrations/__init__.py); no alembic.ini, no logging set-up of its own."""
from __future__ import annotations

from alembic import context

context.configure(connection=context.config.attributes["connection"])
# Inside the runner's transaction this opens none of its own: the upgrade commits or rolls back whole.
with context.begin_transaction():
    context.run_migrations()
