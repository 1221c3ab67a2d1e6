"""Shared test helpers: configs for a run, reading the warehouse back."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import sqlalchemy as sa

from jisseki.config import to_toml

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
    path.write_text(to_toml(values), "utf-8")
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


class Receiver:
    """A real HTTP receiver on loopback for Apprise's json:// notifications."""

    def __init__(self, port: int = 0) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        messages = self.messages = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                messages.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.block_on_close = False
        # Stopping waits up to one poll for shutdown: 10 ms, not the default half second.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def titles(self) -> list[str]:
        return [m["title"] for m in self.messages]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def libreoffice(source: Path, target: str, outdir: Path) -> Path:
    """One conversion in real LibreOffice, with a profile of its own so parallel runs never share one."""
    subprocess.run([soffice(), "--headless", "--norestore", "--nologo", "--nolockcheck",
                    f"-env:UserInstallation={(outdir / 'profile').as_uri()}", "--convert-to", target,
                    "--outdir", str(outdir), str(source)], check=True, capture_output=True, timeout=180)
    return outdir / f"{source.stem}.{target.split(':')[0]}"


# The seed's FY2025 table (令和7年度実績, 達成状況, 前年度実績); ratios as fractions, milestones as 1.
SEED_FY2025 = {
    "online_procedures": (2180, "A", 1674),
    "myna_moveout_share": (0.34, "A", 0.24),
    "backoffice_platform_started": (1, "A", None),
    "nocode_operations": (50, "A", 59),
    "genai_verified_operations": (2, "A", None),
    "speech_hours_monthly": (403, "B", 276),
    "construction_dx_working_groups": (1, "A", None),
    "dx_support_departments": (2, "A", 2),
    "external_specialists": (7, "A", 5),
    "dx_core_training_participants": (69, "A", 55),
    "infra_training_participants": (60, "A", 30),
    "dataviz_department_share": (0.64, "A", 0.55),
    "talent_plan_and_training": (1, "A", None),
    "data_pilot_projects": (3, "A", 3),
    "security_strategy_revised": (1, "A", None),
}
