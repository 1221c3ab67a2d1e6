"""The config file: every section of interfaces.md parses; mistakes name the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from jisseki.config import ApiSourceConfig, ConfigError, load_config

FULL = """
[warehouse]
url = "sqlite:///warehouse.db"

[sources.online_procedures]
base_url = "http://127.0.0.1:8081"
token_env = "JISSEKI_PROCEDURES_TOKEN"

[sources.moveout_log]
path = "inbox/tenshutsu"

[sources.speech_usage]
path = "inbox/speech"

[sources.nocode_apps]
base_url = "http://127.0.0.1:8082"
token_env = "JISSEKI_NOCODE_TOKEN"

[sources.dataviz_access]
path = "inbox/dataviz"
departments = "inbox/departments.csv"

[sources.manual_entries]
path = "inbox/manual"

[alerts]
urls = ["json://127.0.0.1:9099/hook"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jisseki.toml"
    path.write_text(text, "utf-8")
    return path


def test_every_section_of_the_interface_parses_and_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL), {"JISSEKI_PROCEDURES_TOKEN": "s3cret"})
    assert config.enabled_sources() == ["online_procedures", "moveout_log", "speech_usage",
                                        "nocode_apps", "dataviz_access", "manual_entries"]
    assert config.warehouse.url == f"sqlite:///{tmp_path / 'warehouse.db'}"
    assert config.sources.moveout_log.path == tmp_path / "inbox/tenshutsu"
    assert config.sources.dataviz_access.departments == tmp_path / "inbox/departments.csv"
    assert config.alerts.urls == ["json://127.0.0.1:9099/hook"]
    procedures = config.sources.online_procedures
    assert isinstance(procedures, ApiSourceConfig) and procedures.token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config) and "s3cret" not in config.model_dump_json()
    assert config.sources.nocode_apps.token is None
    assert config.max_bad_ratio("moveout_log") == 0.05


def test_environment_overrides_the_warehouse_url(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL), {"JISSEKI_WAREHOUSE_URL": "postgresql://u@h/db"})
    assert config.warehouse.url == "postgresql://u@h/db"


@pytest.mark.parametrize("extra, named", [
    ("[reports]\nx = 1\n", "reports"),
    ("[sources.moveout]\npath = 'x'\n", "sources.moveout"),
])
def test_unknown_sections_are_named(tmp_path: Path, extra: str, named: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown key '{named}'"):
        load_config(write(tmp_path, FULL + extra))


def test_unknown_and_bad_keys_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'sources.speech_usage.folder'"):
        load_config(write(tmp_path, "[sources.speech_usage]\nfolder = 'x'\n"))
    with pytest.raises(ConfigError, match="sources.online_procedures.*token_env or token_secret"):
        load_config(write(tmp_path, "[sources.online_procedures]\nbase_url = 'http://x'\n"))
    with pytest.raises(ConfigError, match="validation.max_bad_ratio"):
        load_config(write(tmp_path, "[validation]\nmax_bad_ratio = 2\n"))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[warehouse\n"))


def test_a_source_left_out_is_not_collected(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[sources.speech_usage]\npath = 's'\n"))
    assert config.enabled_sources() == ["speech_usage"]
    with pytest.raises(ConfigError):
        config.source("moveout_log")
