"""Read a declared SQL source: one read-only query over PostgreSQL (psycopg 3), MariaDB/MySQL (PyMySQL) or a
SQLite file, streamed in batches, keeping only the declared columns.

Read-only twice over: the query must be one SELECT (or WITH … SELECT) that writes nothing as far as its text
shows, and the database itself is told so (PostgreSQL and MariaDB: a READ ONLY transaction; SQLite: the file
opened read-only with query_only on), so a function or a trick the text check misses still cannot write. The
transaction is always rolled back. The URL is a secret: no message, lineage or log holds it, only the kind of
database, its host, port and database name; the driver's own error text (which may name host and user) is not
repeated either, only its class and code."""
from __future__ import annotations

import hashlib
import json
import math
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Date, Engine, TextClause, bindparam, create_engine, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from connectors.errors import SourceConfigError, SourceError, SourceFormatError, SourceUnavailable
from jisseki.core.periods import now_utc
from jisseki.core.records import Bad, Lineage
from jisseki.declared.spec import SqlSource
from jisseki.declared.values import Row, Window

BATCH = 1000                 # rows fetched at a time: a big table is never held whole
CONNECT_SECONDS = 10         # at most: a query given less time than this is given as little to connect
PARAMETERS = ("start", "end")
BACKENDS = ("postgresql", "mysql", "mariadb", "sqlite")
# Words that only a statement which writes (or locks, or makes a table: SELECT … INTO) has, outside strings
# and quoted names. A column really called so can be written in quotes.
WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "INTO", "DROP", "ALTER", "CREATE", "TRUNCATE",
                    "GRANT", "REVOKE"})
DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
READ_ONLY_HINT = "query には読むだけの SELECT 文（または WITH … SELECT）を 1 つだけ書いてください"


def read_sql(cfg: SqlSource, lineage: Lineage, window: Window, secret: str | None) -> Iterator[Row | Bad]:
    """Every row of the query, :start and :end bound to the window's days, as the declared columns' raw
    database values. A declared column the result lacks stops the read before any row (SourceFormatError).
    Result columns are matched to `column.where(name)` exactly, else ignoring case (PostgreSQL folds unquoted
    names to lower case, MariaDB keeps them as written)."""
    url = _url(cfg, secret)
    backend = url.get_backend_name()
    place = f"{cfg.title}（{describe(url)}）"
    if backend not in BACKENDS:
        raise SourceConfigError(f"{place}: この種類のデータベースは読めません",
                                "URL を postgresql・mysql・mariadb・sqlite のどれかにしてください")
    statement, params = _statement(runnable(cfg.query, backend, place), window, place)
    engine = _engine(url, place, cfg.timeout_seconds)
    crawled_at = now_utc().isoformat(timespec="seconds")
    content = hashlib.sha256()
    records = 0
    try:
        with _translated(place, cfg.timeout_seconds), engine.connect() as conn:
            try:
                _bounded(conn, backend, cfg.timeout_seconds)
                with conn.execution_options(stream_results=True).execute(statement, params) as result:
                    lineage.pages_read = 1
                    positions = _positions(cfg, list(result.keys()), place)
                    while batch := result.fetchmany(BATCH):
                        for row in batch:
                            records += 1
                            values = {name: row[i] for name, i in positions.items()}
                            blob = canonical(values)
                            content.update(blob + b"\n")
                            yield Row(values, "query", f"row {records}", hashlib.sha256(blob).hexdigest())
            finally:
                conn.rollback()
    finally:
        engine.dispose()
    lineage.crawl = {"endpoint": endpoint(url), "crawled_at": crawled_at, "pages": 1, "records": records,
                     "content_sha256": content.hexdigest(),
                     "query_sha256": hashlib.sha256(cfg.query.encode()).hexdigest()}


def describe(url: URL) -> str:
    """The database as messages name it: its kind, host, port and name; never user, password or options."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return f"sqlite:{url.database or ''}"
    host = f"[{url.host}]" if url.host and ":" in url.host else (url.host or "")
    port = f":{url.port}" if url.port else ""
    return f"{backend}://{host}{port}/{url.database or ''}"


def endpoint(url: URL) -> str:
    """What the lineage calls the source: the kind of database and its name (a SQLite file by its name)."""
    database = url.database or ""
    if url.get_backend_name() == "sqlite":
        database = Path(database).name
    return f"sql:{url.get_backend_name()}/{database}"


def canonical(values: Mapping[str, Any]) -> bytes:
    """A row's declared values as one text, the same for the same values whichever driver read them."""
    return json.dumps(values, sort_keys=True, ensure_ascii=False, default=_plain).encode()


def _plain(value: Any) -> str:
    if isinstance(value, (date, datetime, clock_time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


# -- the query -------------------------------------------------------------------------------------------------

class _Refused(Exception):
    """Why a query's text is not one read-only statement (Japanese)."""


def runnable(query: str, backend: str, place: str) -> str:
    """The query as it is sent: its comments blanked and a final `;` taken off, once its text shows one
    SELECT or WITH statement that writes nothing. SourceConfigError otherwise (before connecting)."""
    try:
        code, bare = _scan(query, backend)
    except _Refused as exc:
        raise SourceConfigError(f"{place}: query を読み取り専用の問合せとして確かめられません（{exc}）",
                                READ_ONLY_HINT) from None
    end = bare.find(";")
    if end >= 0 and bare[end + 1:].strip():
        raise SourceConfigError(f"{place}: query に複数の文があります（; の後にも文が続いています）", READ_ONLY_HINT)
    if end >= 0:
        code, bare = code[:end], bare[:end]
    first = re.match(r"[\s(]*(\w+)", bare)
    if first is None or first.group(1).upper() not in ("SELECT", "WITH"):
        raise SourceConfigError(f"{place}: query が SELECT 文ではありません", READ_ONLY_HINT)
    writes = sorted({word.upper() for word in re.findall(r"\w+", bare)} & WRITES)
    if writes:
        raise SourceConfigError(f"{place}: query にデータベースを書き換える語（{'・'.join(writes)}）があります",
                                READ_ONLY_HINT + "（その名前の列は \"…\" で囲んでください）")
    return code.strip()


def _scan(query: str, backend: str) -> tuple[str, str]:
    """(the query with its comments blanked, that again with the insides of strings and quoted names blanked),
    both as long as the query, so a position in one is the same in the other. Read as the database reads it
    where that matters: MariaDB/MySQL `#` comments, `-- ` only before a space, backslash escapes and
    executable `/*! */` comments (refused); PostgreSQL dollar quoting and E'' strings."""
    mysql = backend in ("mysql", "mariadb")
    code, bare = list(query), list(query)
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if query.startswith("--", i) and (not mysql or i + 2 == n or query[i + 2].isspace()) \
                or (mysql and ch == "#"):
            j = query.find("\n", i)
            j = n if j < 0 else j
            _blank(code, i, j)
            _blank(bare, i, j)
        elif query.startswith("/*", i):
            if mysql and query.startswith(("/*!", "/*M!"), i):
                raise _Refused("実行される注釈 /*! … */ は使えません")
            close = query.find("*/", i + 2)
            if close < 0:
                raise _Refused("閉じていない注釈 /* があります")
            j = close + 2
            _blank(code, i, j)
            _blank(bare, i, j)
        elif ch in "'\"" or (ch == "`" and backend != "postgresql"):
            escaped = ch != "`" and (mysql or (ch == "'" and _e_string(query, i)))
            j = _closing(query, i, escaped) + 1
            _blank(bare, i + 1, j - 1)
        elif ch == "$" and backend == "postgresql" and (tag := DOLLAR_TAG.match(query, i)) \
                and not (i and (query[i - 1].isalnum() or query[i - 1] == "_")):
            close = query.find(tag.group(), tag.end())
            if close < 0:
                raise _Refused("閉じていない $ 引用があります")
            j = close + len(tag.group())
            _blank(bare, tag.end(), close)
        else:
            j = i + 1
        i = j
    return "".join(code), "".join(bare)


def _blank(chars: list[str], start: int, stop: int) -> None:
    for k in range(start, stop):
        if chars[k] != "\n":
            chars[k] = " "


def _e_string(query: str, i: int) -> bool:
    """PostgreSQL E'…': backslashes escape there."""
    return i > 0 and query[i - 1] in "eE" and (i == 1 or not (query[i - 2].isalnum() or query[i - 2] == "_"))


def _closing(query: str, start: int, escaped: bool) -> int:
    """Where the quote opened at `start` closes (a doubled quote is one quote inside)."""
    quote, j = query[start], start + 1
    while j < len(query):
        if (escaped and query[j] == "\\") or query.startswith(quote * 2, j):
            j += 2
        elif query[j] == quote:
            return j
        else:
            j += 1
    raise _Refused(f"閉じていない引用 {quote} があります")


def _statement(query: str, window: Window, place: str) -> tuple[TextClause, dict[str, date]]:
    clause = text(query)
    names = sorted(clause.compile().params)
    unknown = [f":{name}" for name in names if name not in PARAMETERS]
    if unknown:
        raise SourceConfigError(f"{place}: query のパラメータ {'、'.join(unknown)} は使えません",
                                "query で使えるパラメータは :start（年度の初日）と :end（基準日）だけです")
    bound = clause.bindparams(*(bindparam(name, type_=Date()) for name in names))
    return bound, {name: getattr(window, name) for name in names}


def _positions(cfg: SqlSource, keys: Sequence[str], place: str) -> dict[str, int]:
    """Each declared column's place in the result row."""
    exact: dict[str, list[int]] = {}
    folded: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        exact.setdefault(key, []).append(i)
        folded.setdefault(key.casefold(), []).append(i)
    positions: dict[str, int] = {}
    missing, doubled = [], []
    for name, column in cfg.columns.items():
        where = column.where(name)
        found = exact.get(where) or folded.get(where.casefold(), [])
        if not found:
            missing.append(where)
        elif len(found) > 1:
            doubled.append(where)
        else:
            positions[name] = found[0]
    if missing:
        raise SourceFormatError(f"{place}: 問合せの結果に宣言した列 {'、'.join(missing)} がありません",
                                "query の SELECT にその列を入れる（別名は AS で付ける）か、columns の source を"
                                "結果の列名に合わせてください")
    if doubled:
        raise SourceFormatError(f"{place}: 問合せの結果に列 {'、'.join(doubled)} が複数あります",
                                "query の SELECT で列名が重ならないよう AS で別名を付けてください")
    return positions


# -- the connection --------------------------------------------------------------------------------------------

def _url(cfg: SqlSource, secret: str | None) -> URL:
    hint = "url_env の環境変数か url_secret の Prefect Secret に SQLAlchemy の URL を入れてください"
    if not secret:
        raise SourceConfigError(f"{cfg.title}: データベースの URL がありません", hint)
    try:
        return make_url(secret)
    except (ArgumentError, ValueError):
        # Their text repeats the URL.
        raise SourceConfigError(f"{cfg.title}: データベースの URL を SQLAlchemy の URL として読めません", hint) from None


def _engine(url: URL, place: str, seconds: float) -> Engine:
    backend = url.get_backend_name()
    connect = min(CONNECT_SECONDS, seconds)
    try:
        if backend == "sqlite":
            return _sqlite_engine(url, place, connect)
        if backend == "postgresql":
            # libpq takes whole seconds, and 2 at the least.
            connect_args: dict[str, Any] = {"connect_timeout": max(2, math.ceil(connect))}
        else:
            # A read (the server's greeting too) waits a little longer than any query may run, so a server
            # gone silent ends the read as well.
            connect_args = {"connect_timeout": connect, "read_timeout": math.ceil(seconds + connect)}
        return create_engine(url, poolclass=NullPool, hide_parameters=True, connect_args=connect_args)
    except (NoSuchModuleError, ImportError, ArgumentError) as exc:
        raise SourceConfigError(f"{place}: データベースのドライバー {url.get_driver_name()} を使えません"
                                f"（{type(exc).__name__}）",
                                "URL のドライバー名（postgresql+psycopg・mysql+pymysql・sqlite）を確認してください") from None


def _sqlite_engine(url: URL, place: str, busy_seconds: float) -> Engine:
    database = url.database or ""
    path = Path(database)
    if not database or database == ":memory:" or not path.is_file():
        raise SourceConfigError(f"{place}: SQLite のファイルがありません", "URL のファイルのパスを確認してください")
    # mode=ro: sqlite3 neither creates nor writes the file; query_only refuses any write on the connection too.
    uri = f"{path.resolve().as_uri()}?mode=ro"

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(uri, uri=True, timeout=busy_seconds)
        connection.execute("PRAGMA query_only = ON")
        return connection

    return create_engine("sqlite://", creator=connect, poolclass=NullPool, hide_parameters=True)


def _bounded(conn: Connection, backend: str, seconds: float) -> None:
    """The transaction made read-only and the query's time bounded, by the database itself."""
    if backend == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, round(seconds * 1000))}")
    elif backend in ("mysql", "mariadb"):
        if conn.dialect.is_mariadb:   # type: ignore[attr-defined]
            conn.exec_driver_sql(f"SET SESSION max_statement_time = {seconds:.3f}")
        else:
            conn.exec_driver_sql(f"SET SESSION max_execution_time = {max(1, round(seconds * 1000))}")
        conn.exec_driver_sql("START TRANSACTION READ ONLY")
    else:
        # SQLite has no statement timeout: the progress handler interrupts the query once the time is up.
        deadline = time.monotonic() + seconds
        raw = conn.connection.dbapi_connection
        raw.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)   # type: ignore[union-attr]


# -- errors ----------------------------------------------------------------------------------------------------

@contextmanager
def _translated(place: str, seconds: float) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        raise _error(exc.orig or exc, place, seconds) from None
    except SQLAlchemyError as exc:
        raise SourceUnavailable(f"{place}: データベースを読めませんでした（{type(exc).__name__}）") from None


def _error(orig: BaseException, place: str, seconds: float) -> SourceError:
    """The driver's error as the reader's: its class and code only, never its text (it may name host or user)."""
    kind, code = _kind(orig)
    which = f"{type(orig).__name__}{code}"
    if kind == "timeout":
        return SourceUnavailable(f"{place}: 問合せが {seconds:g} 秒で終わらず、打ち切りました（{which}）",
                                 "データベースが混んでいるか問合せが重すぎます。続くときは query を見直すか "
                                 "timeout_seconds を延ばしてください")
    if kind == "login":
        return SourceConfigError(f"{place}: データベースに接続を拒否されたか、開けませんでした（{which}）",
                                 "URL の利用者名・パスワード・データベース名（url_env または url_secret）を"
                                 "確認してください")
    if kind == "write":
        return SourceConfigError(f"{place}: 問合せがデータベースを書き換えようとし、読み取り専用の接続が"
                                 f"拒否しました（{which}）", READ_ONLY_HINT)
    if kind == "query":
        return SourceConfigError(f"{place}: 問合せを実行できません（{which}）",
                                 "query の書き方、表・列の名前、その利用者に読む権限があるかを確認してください")
    if kind == "data":
        return SourceFormatError(f"{place}: データベースが問合せの途中で値を扱えませんでした（{which}）")
    return SourceUnavailable(f"{place}: データベースに接続できないか、接続が切れました（{which}）")


def _kind(orig: BaseException) -> tuple[str, str]:
    """(timeout | login | write | query | data | down, the error's code as shown)."""
    if isinstance(orig, sqlite3.Error):
        return _sqlite_kind(orig)
    if type(orig).__module__.split(".")[0] == "psycopg":
        return _postgres_kind(orig)
    return _mysql_kind(orig)


# SQLSTATE classes (the first two characters) and codes: https://www.postgresql.org/docs/current/errcodes-appendix.html
POSTGRES = {"57014": "timeout", "25006": "write", "28": "login", "3D": "login", "42": "query", "0A": "query",
            "22": "data", "08": "down", "53": "down", "57": "down", "40": "down", "58": "down"}
# A server's refusal at connect (libpq gives no SQLSTATE then), unless it is a passing one.
POSTGRES_REFUSED = ("FATAL", "致命的", "fe_sendauth")
POSTGRES_PASSING = ("too many", "starting up", "shutting down", "recovery", "not yet accepting")


def _postgres_kind(orig: BaseException) -> tuple[str, str]:
    state = getattr(orig, "sqlstate", None)
    if state:
        kind = POSTGRES.get(state) or POSTGRES.get(state[:2])
        if kind is None:
            kind = "down" if type(orig).__name__ == "OperationalError" else "query"
        return kind, f"、SQLSTATE {state}"
    said = str(orig)
    if any(word in said for word in POSTGRES_REFUSED) and not any(word in said for word in POSTGRES_PASSING):
        return "login", ""
    return "down", ""


# MariaDB/MySQL error numbers: https://mariadb.com/kb/en/mariadb-error-code-reference/
MYSQL = {1969: "timeout", 3024: "timeout", 1792: "write", 1290: "write", 1836: "write",
         1044: "login", 1045: "login", 1049: "login", 1698: "login", 1251: "login", 2059: "login",
         1040: "down", 1053: "down", 1205: "down", 1213: "down", 1317: "down", 1927: "down",
         1264: "data", 1292: "data", 1365: "data", 1366: "data", 1690: "data"}
MYSQL_CLASSES = {"OperationalError": "down", "InterfaceError": "down", "DataError": "data"}


def _mysql_kind(orig: BaseException) -> tuple[str, str]:
    number = orig.args[0] if orig.args and isinstance(orig.args[0], int) and orig.args[0] else None
    if number is None:
        return MYSQL_CLASSES.get(type(orig).__name__, "query"), ""
    # 2000–2999 are the client's own (no connection); any other number the server refused the query with
    # (PyMySQL calls many of those OperationalError: an unknown column is 1054).
    kind = MYSQL.get(number) or ("down" if 2000 <= number < 3000 else "query")
    return kind, f"、エラー番号 {number}"


SQLITE = {"SQLITE_INTERRUPT": "timeout", "SQLITE_READONLY": "write", "SQLITE_CANTOPEN": "login",
          "SQLITE_NOTADB": "login", "SQLITE_AUTH": "login", "SQLITE_PERM": "login", "SQLITE_CORRUPT": "data",
          "SQLITE_BUSY": "down", "SQLITE_LOCKED": "down", "SQLITE_IOERR": "down", "SQLITE_FULL": "down",
          "SQLITE_NOMEM": "down"}


def _sqlite_kind(orig: sqlite3.Error) -> tuple[str, str]:
    name = getattr(orig, "sqlite_errorname", "") or ""
    # Extended codes (SQLITE_READONLY_DBMOVED, SQLITE_IOERR_READ) go by their primary code.
    kind = SQLITE.get(name) or SQLITE.get("_".join(name.split("_")[:2]), "query")
    return kind, f"、{name}" if name else ""
