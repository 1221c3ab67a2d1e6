"""The config file: every section of interfaces.md parses; mistakes name the key."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from jisseki.config import ConfigError, load_config
from jisseki.declared.spec import RestSource

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
    assert isinstance(procedures, RestSource) and procedures.token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config) and "s3cret" not in config.model_dump_json()
    assert config.sources.nocode_apps.token is None
    assert config.max_bad_ratio("moveout_log") == 0.05


def test_environment_overrides_the_warehouse_url(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL), {"JISSEKI_WAREHOUSE_URL": "postgresql://u@h/db"})
    assert config.warehouse.url == "postgresql://u@h/db"


@pytest.mark.parametrize("extra, said", [
    ("[reports]\nx = 1\n", "[reports]: 不明なキーです"),
    # Not a built-in source, and no type that would declare one.
    ("[sources.moveout]\npath = 'x'\n", "[sources.moveout]: 組み込みのソースではありません。新しいソースを宣言するなら type"),
    ("[sources.moveout]\ntype = 'xml'\n", "[sources.moveout]: type は次のいずれかにしてください"),
    ("[sources.moveout]\ntype = 'csv'\ntitle = '転出'\npath = 'x'\ncolumns = { a = 'date' }\nhost = 1\n",
     "[sources.moveout] host: 不明なキーです"),
])
def test_unknown_sections_are_named(tmp_path: Path, extra: str, said: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(said)):
        load_config(write(tmp_path, FULL + extra))


@pytest.mark.parametrize("text, message", [
    ("[sources.speech_usage]\nfolder = 'x'\n", "[sources.speech_usage] folder: 不明なキーです"),
    ("[sources.online_procedures]\nbase_url = 'http://x'\n",
     "[sources.online_procedures]: token_env（環境変数名）か token_secret（Prefect Secret ブロック名）の"
     "どちらか一方を指定してください"),
    ("[sources.online_procedures]\ntoken_env = 'T'\n", "[sources.online_procedures] base_url: 必須の項目がありません"),
    ("[validation]\nmax_bad_ratio = 2\n", "[validation] max_bad_ratio: 1.0 以下にしてください"),
    ("[sources.moveout_log]\npath = 3\n", "[sources.moveout_log] path: パス（文字列）で指定してください"),
    ("[alerts]\nurls = ['json://x', 5]\n", "[alerts] urls（2番目）: 文字列で指定してください"),
    ("[schedule]\ncron = 1\n", "[schedule] cron: 文字列で指定してください"),
    ("[warehouse\n", "は TOML として正しくありません（1 行目"),
])
def test_mistakes_are_named_in_japanese(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert message in str(err.value)
    assert not re.search(r"\b(Field|required|Value error|unknown key|not valid|Input should)\b", str(err.value))


def test_a_missing_config_file_says_so_in_japanese(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="設定ファイル .*nope.toml がありません"):
        load_config(tmp_path / "nope.toml")


def test_a_source_left_out_is_not_collected(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[sources.speech_usage]\npath = 's'\n"))
    assert config.enabled_sources() == ["speech_usage"]
    with pytest.raises(ConfigError):
        config.source("moveout_log")


def test_an_unexpected_errors_text_keeps_its_words_not_the_values_it_failed_on() -> None:
    from jisseki.core.errors import internal_error

    try:
        int("R7-0000001")
    except ValueError as exc:
        text = internal_error(exc)
    assert text == "内部エラー ValueError: invalid literal for int() with base 10: …"
    assert internal_error(KeyError("山田花子")) == "内部エラー KeyError: …"
    assert "4455601" not in internal_error(RuntimeError("user 4455601 not found"))
    assert internal_error(RuntimeError("Timed out while attempting to connect")).endswith("connect")
