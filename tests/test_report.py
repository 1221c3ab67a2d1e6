"""The report: an offline HTML page that renders in headless Chromium (the workbook: test_report_workbook.py)."""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from datetime import date
from pathlib import Path

import pytest

from jisseki.catalog import load_catalog
from jisseki.core.model import Figure
from jisseki.evaluate import evaluate
from jisseki.report_files import write_report
from warehouse.store import connect, latest_evaluations, save_evaluations

CATALOG = load_catalog()
AS_OF = date(2026, 3, 31)


def figures() -> list[Figure]:
    out = [Figure("speech_hours_monthly", f"{y}-{m:02d}", "city", date(y, m, 28), 300.0 + 10 * i)
           for i, (y, m) in enumerate([(2025, m) for m in range(4, 13)] + [(2026, m) for m in (1, 2, 3)])]
    out += [Figure("speech_hours_monthly", "FY2025", "city", AS_OF, 355.0),
            Figure("online_procedures", "FY2025", "city", AS_OF, 2180.0),
            Figure("external_specialists", "FY2025", "city", AS_OF, 7.0, evidence="=HYPERLINK(\"http://x\")")]
    return out


@pytest.fixture
def report(tmp_path: Path) -> tuple[Path, Path]:
    engine = connect(f"sqlite:///{tmp_path / 'w.db'}")
    save_evaluations(engine, evaluate(figures(), CATALOG, AS_OF), "run-1")
    return write_report(latest_evaluations(engine, 2025), figures(), CATALOG, 2025, tmp_path / "out")


def test_the_page_is_self_contained_japanese_with_a_chart_per_monthly_indicator(report) -> None:
    page = report[0].read_text("utf-8")
    assert page.startswith("<!doctype html>") and 'lang="ja"' in page
    assert "令和7年度 デジタル統括室 アウトカム指標の達成状況" in page
    # Only speech recognition has months: one chart (drawn wide and narrow); the others are a line each.
    assert page.count('class="kpi"') == 1 and page.count('<figure class="chart">') == 1 and page.count("<svg") == 2
    assert page.count('<li title="') == 14
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing to fetch
    assert "<script" not in page and "src=" not in page


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.mark.e2e
@pytest.mark.skipif(chromium() is None and os.environ.get("CI") != "true", reason="chromium is not installed")
def test_the_report_renders_in_headless_chromium(report, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=1280,2400",
                    f"--screenshot={shot}", report[0].as_uri()],
                   check=True, capture_output=True, timeout=120)
    width, height, raw = png_pixels(shot)
    assert (width, height) == (1280, 2400)
    # Not blank: many distinct byte values and a good share of pixels that are not white.
    assert len(set(raw)) > 50
    assert sum(1 for b in raw[::7] if b < 200) > len(raw[::7]) * 0.01
