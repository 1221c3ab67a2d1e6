"""Shared test helpers: configs for a run, reading the warehouse back."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from jisseki.config import dump_example

TOKEN_ENV = "JISSEKI_TEST_PROCEDURES_TOKEN"
TOKEN = "test-Tok3n-do-not-leak"


def write_config(folder: Path, warehouse_url: str, base_url: str | None, moveout: str = "moveout",
                 speech: str = "speech", **extra: dict) -> Path:
    values: dict[str, dict] = {"warehouse": {"url": warehouse_url}}
    if base_url is not None:
        values["sources.online_procedures"] = {"base_url": base_url, "token_env": TOKEN_ENV,
                                               "max_retries": 1, "backoff_seconds": 0.05}
    if moveout:
        values["sources.moveout_log"] = {"path": moveout}
    if speech:
        values["sources.speech_usage"] = {"path": speech}
    values.update(extra)
    path = folder / "jisseki.toml"
    path.write_text(dump_example(values), "utf-8")
    return path


def table_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        counts = {n: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one() for n in names}
    engine.dispose()
    return counts


def every_cell(url: str) -> str:
    """All text of every table, for scanning for what must never be stored."""
    engine = sa.create_engine(url)
    parts = []
    with engine.connect() as conn:
        for name in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{name}"')):
                parts.extend(str(cell) for cell in row)
    engine.dispose()
    return "\n".join(parts)
