"""ingest_file.ctime_ns and inode: a file copied over a landed one with its size and mtime kept (cp -p,
rsync -t) still has a new ctime and usually a new inode, so the next night hashes it again. Files landed
before this revision have neither: the next night hashes them once and fills them in."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_ingest_file_stat"
down_revision = "0003_night_run"


def upgrade() -> None:
    op.add_column("ingest_file", sa.Column("ctime_ns", sa.BigInteger))
    op.add_column("ingest_file", sa.Column("inode", sa.BigInteger))
