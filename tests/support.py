"""Shared test helpers: configs for a run, reading the warehouse back."""
from __future__ import annotations

import re
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


def pdf_page_sizes(pdf: Path) -> list[tuple[float, float]]:
    """Each page's width and height in points (poppler's pdfinfo)."""
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "99", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    return [(float(w), float(h)) for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info)]


def pdf_text(pdf: Path, page: int) -> str:
    """One page's text as laid out (poppler's pdftotext -layout)."""
    return subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout


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


# A ward office's operating policy beside the bundled one: a second department, with a target of each new kind
# (at most, a band, a change from a baseline year, targets per ward).
WARD = "北区役所"
WARD_POLICY = """
[policy]
id = "kita-ward-fy2025"
title = "令和7年度 北区役所運営方針"
department = "北区役所"
fiscal_year = 2025

[challenges]
1 = "区民の利便性の向上"
2 = "地域の身近な窓口サービス"

[[indicators]]
id = "kita_window_wait"
challenge = 1
name = "区役所窓口の平均待ち時間"
unit = "分"
kind = "mean"
direction = "at_most"
source = "manual_entries"
targets = { 2025 = 15 }

[[indicators]]
id = "kita_cert_share"
challenge = 1
name = "証明書のコンビニ交付の割合"
unit = "%"
kind = "ratio"
direction = "within"
source = "manual_entries"
targets = { 2025 = { low = 0.3, high = 0.4 } }

[[indicators]]
id = "kita_paper_forms"
challenge = 2
name = "紙の申請書の受付件数"
unit = "件"
kind = "count_per_fy"
direction = "at_most"
source = "manual_entries"
targets = { 2025 = { change_share = -0.02, baseline = 2024 } }
actuals = { 2024 = 1000 }

[[indicators]]
id = "kita_myna_share"
challenge = 2
name = "マイナンバーカードで手続きした割合"
unit = "%"
kind = "ratio"
direction = "at_least"
source = "manual_entries"
targets = { 2025 = 0.7 }
scope_targets = { "271276" = { 2025 = 0.75 }, "271021" = { 2025 = 0.7 } }
"""
