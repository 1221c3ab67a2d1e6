from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Temporary files in memory where the machine has a tmpfs (unless TMPDIR says otherwise): the tests' SQLite
# warehouses and DuckDB indexes commit with fsync, and on a busy disk those waits cost more than the tests'
# own work. Set before anything below makes a temporary file; the processes tests start inherit it.
if "TMPDIR" not in os.environ and os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
    os.environ["TMPDIR"] = tempfile.tempdir = "/dev/shm"
# Keys that runs make for themselves go to the user's config folder: in tests, one of the session's own
# (inherited by every jisseki the tests start), removed at the end.
_CONFIG_HOME = os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="jisseki-test-config-")
atexit.register(shutil.rmtree, _CONFIG_HOME, True)

POSTGRES_ADMIN_URL = os.environ.get("JISSEKI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fast tier (-m "not e2e") must never start the Prefect test server: a test that asks for it
    without the e2e marker is refused at collection, whichever tier is run, rather than slowing the fast
    tier unnoticed."""
    unmarked = [item.nodeid for item in items
                if "prefect_harness" in getattr(item, "fixturenames", ()) and item.get_closest_marker("e2e") is None]
    if unmarked:
        raise pytest.UsageError("prefect_harness を使うテストには @pytest.mark.e2e が必要です: " + ", ".join(unmarked))


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session (it costs seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL, dropped at the end. Skips outside CI when the
    server is not there; inside CI (CI=true) a missing server is a failure."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"jisseki_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc.__class__.__name__}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh schema per test inside the session's database."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:10]}"
    # synchronous_commit off: a commit does not wait for its WAL to reach the disk (a test database need not
    # survive a crash); waiting for that is most of the time the migrations' many small DDL transactions take.
    engine = sa.create_engine(postgres_server_url, connect_args={"options": "-csynchronous_commit=off"})
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield f"{postgres_server_url}?options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("postgres_url")
