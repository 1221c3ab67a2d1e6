"""Late-data thresholds and the city's extra closed days in the config: defaults, settings, Japanese errors."""
from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from jisseki.config import ConfigError, load_config
from jisseki.core.freshness import EntryDue, NewDataDay, RecentCrawl
from jisseki.sources import SOURCES
from tests.test_config import FULL, write


def test_every_configured_source_has_a_freshness_rule_with_todays_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config.freshness() == {
        "online_procedures": RecentCrawl(2), "moveout_log": NewDataDay(3), "speech_usage": NewDataDay(3),
        "nocode_apps": RecentCrawl(2), "dataviz_access": NewDataDay(3), "manual_entries": EntryDue(4, 30)}
    assert set(config.freshness()) == set(SOURCES)
    assert config.calendar.closed_days == []


def test_thresholds_and_closed_days_are_read_from_their_sections(tmp_path: Path) -> None:
    text = FULL.replace('path = "inbox/tenshutsu"', 'path = "inbox/tenshutsu"\nstale_after_business_days = 5')
    text = text.replace('"JISSEKI_NOCODE_TOKEN"', '"JISSEKI_NOCODE_TOKEN"\nstale_after_days = 4')
    text = text.replace('path = "inbox/manual"', 'path = "inbox/manual"\nentry_due = "06-30"')
    text += '\n[calendar]\nclosed_days = [2026-01-05, "2026-08-14"]\n'
    config = load_config(write(tmp_path, text))
    freshness = config.freshness()
    assert freshness["moveout_log"] == NewDataDay(5) and freshness["speech_usage"] == NewDataDay(3)
    assert freshness["nocode_apps"] == RecentCrawl(4) and freshness["online_procedures"] == RecentCrawl(2)
    assert freshness["manual_entries"] == EntryDue(6, 30) and freshness["manual_entries"].due(2025) == date(2026, 6, 30)
    assert config.calendar.closed_days == [date(2026, 1, 5), date(2026, 8, 14)]


@pytest.mark.parametrize("section, line, key", [
    ("sources.speech_usage", "stale_after_business_days = -1", "stale_after_business_days"),
    ("sources.speech_usage", "stale_after_business_days = 2.5", "stale_after_business_days"),
    ("sources.speech_usage", 'stale_after_business_days = "3"', "stale_after_business_days"),
    ("sources.speech_usage", "stale_after_business_days = true", "stale_after_business_days"),
    ("sources.online_procedures", "stale_after_days = 0", "stale_after_days"),
    ("sources.online_procedures", 'stale_after_days = "2日"', "stale_after_days"),
    ("sources.manual_entries", 'entry_due = "4/30"', "entry_due"),
    ("sources.manual_entries", 'entry_due = "03-31"', "entry_due"),
    ("sources.manual_entries", 'entry_due = "04-31"', "entry_due"),
    ("sources.manual_entries", "entry_due = 430", "entry_due"),
    ("calendar", 'closed_days = "2026-01-05"', "closed_days"),
    ("calendar", "closed_days = [2026-01-05T09:00:00]", "closed_days"),
    ("calendar", 'closed_days = ["2026-02-30"]', "closed_days"),
    ("calendar", 'closed_days = ["20260105"]', "closed_days"),
    ("calendar", "closed_days = [20260105]", "closed_days"),
])
def test_a_bad_value_is_refused_in_japanese_naming_the_key(tmp_path: Path, section: str, line: str,
                                                           key: str) -> None:
    required = {"sources.speech_usage": "path = 's'", "sources.manual_entries": "path = 'm'",
                "sources.online_procedures": "base_url = 'http://x'\ntoken_env = 'T'", "calendar": ""}
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f"[{section}]\n{required[section]}\n{line}\n"))
    message = str(err.value)
    assert f"[{section}] {key}: " in message  # where, as every config error says it
    assert re.search(rf"\] {key}: [^a-zA-Z]*[\u3040-\u30ff]", message), message  # and what, in Japanese


def test_an_unknown_key_in_the_calendar_section_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape("[calendar] holidays: 不明なキーです")):
        load_config(write(tmp_path, "[calendar]\nholidays = []\n"))


@pytest.mark.e2e
def test_jisseki_run_refuses_a_bad_threshold_before_it_starts(tmp_path: Path) -> None:
    config = write(tmp_path, "[sources.moveout_log]\npath = 'moveout'\nstale_after_business_days = -2\n")
    done = subprocess.run([sys.executable, "-m", "jisseki.cli", "run", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "設定エラー" in done.stderr and "[sources.moveout_log] stale_after_business_days: 0 以上の整数" in done.stderr
    assert not (tmp_path / "warehouse.db").exists()  # refused before anything ran
