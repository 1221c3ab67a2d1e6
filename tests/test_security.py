"""Secrets and TLS: tokens from the environment or a Prefect Secret block, certificates verified."""
from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from connectors.errors import SourceConfigError
from jisseki.catalog import load_catalog
from jisseki.config import load_config
from jisseki.pipeline import collect
from jisseki.sources import SOURCE_DEFS
from tests.sample_api import Reply, SampleApi
from tests.test_declared_builtins import apps, procedures
from tests.test_http import Recorder

CATALOG = load_catalog()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


def config(tmp_path: Path, base_url: str, extra: str = "", token: str = 'token_env = "JISSEKI_TEST_TLS_TOKEN"',
           source: str = "online_procedures", secret: str = "k"):
    path = tmp_path / "jisseki.toml"
    path.write_text(f'[sources.{source}]\nbase_url = "{base_url}"\n{token}\nmax_retries = 2\n'
                    f"backoff_seconds = 0.01\n{extra}\n", "utf-8")
    return load_config(path, {"JISSEKI_TEST_TLS_TOKEN": secret}).source(source)


def crawl(cfg, source: str = "online_procedures", max_bad_ratio: float = 0.05):
    return collect(SOURCE_DEFS[source], cfg, CATALOG, date(2025, 4, 30), max_bad_ratio)


def test_tls_is_verified_by_default_and_a_bad_certificate_fails_at_once(tmp_path, certificate) -> None:
    with SampleApi(procedures(3), "k", tls=certificate) as api:
        assert api.base_url.startswith("https://")
        with pytest.raises(SourceConfigError, match="TLS"):
            crawl(config(tmp_path, api.base_url))
        assert len(api.requests) == 0  # the handshake failed: no request was ever made, nor retried


def test_tls_verification_can_be_turned_off_for_a_named_source_only(tmp_path, certificate) -> None:
    with SampleApi(procedures(3), "k", tls=certificate) as api:
        batch = crawl(config(tmp_path, api.base_url, "verify_tls = false"))
    assert batch.lineage.crawl["records"] == 3


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_harness")
def test_a_token_from_a_prefect_secret_block(tmp_path) -> None:
    from prefect.blocks.system import Secret

    Secret(value="block-Sekret").save("jisseki-test-token", overwrite=True)
    with SampleApi(procedures(3), "block-Sekret") as api:
        cfg = config(tmp_path, api.base_url, token='token_secret = "jisseki-test-token"')
        assert cfg.token is None and "block-Sekret" not in repr(cfg)
        assert crawl(cfg).lineage.crawl["records"] == 3
        with pytest.raises(SourceConfigError, match="no-such-block"):
            crawl(config(tmp_path, api.base_url, token='token_secret = "no-such-block"'))


@pytest.mark.parametrize("source, api", [("online_procedures", lambda: SampleApi(procedures(3), "tok-Sekret")),
                                         ("nocode_apps", lambda: SampleApi.nocode(apps(3), "tok-Sekret"))])
def test_a_redirect_to_another_host_carries_no_token_there_and_lands_nothing(tmp_path, source, api) -> None:
    with Recorder() as other, api() as first:
        first.script.append(Reply(302, b"", {"Location": f"{other.base_url}/v1/moved"}))
        with pytest.raises(SourceConfigError, match="転送") as err:
            crawl(config(tmp_path, first.base_url, source=source, secret="tok-Sekret"), source)
    assert other.headers == [] and len(first.requests) == 1   # nothing was asked of the other host
    assert "tok-Sekret" not in str(err.value) and f"{other.base_url}/v1/moved" in str(err.value)


def test_quarantine_of_the_api_sources_shows_no_stray_text(tmp_path) -> None:
    """A field holding text of the wrong kind (a name, an object) is quarantined without it: the raw value
    is shown only in its column's shape, and an id that is not a catalog id is not named."""
    items = procedures(30)
    items[0] |= {"id": "山田 太郎", "online_since": "山田太郎 090-1234-5678"}
    items[1] |= {"online_since": {"申請者": "山田太郎"}}
    items[2] |= {"online_since": None}
    items[3] |= {"retired_on": "2020-13-45"}
    items[4] |= {"retired_on": ["x"]}
    with SampleApi(items, "k") as api:
        batch = crawl(config(tmp_path, api.base_url), max_bad_ratio=0.5)
    bad = {b.item: b for b in batch.bad}
    assert sorted(bad) == ["#1", "#2 PROC-000001", "#3 PROC-000002", "#4 PROC-000003", "#5 PROC-000004"]
    assert [bad["#1"].value, bad["#2 PROC-000001"].value] == ["文字列（18文字）", "文字列（15文字）"]
    assert bad["#3 PROC-000002"].value == "" and bad["#4 PROC-000003"].value == "2020-13-45"
    assert bad["#5 PROC-000004"].value == "文字列（5文字）"   # the JSON text ["x"], not a Python repr
    assert not any("山田" in f"{b.item}{b.value}{b.reason}" for b in batch.bad)


def test_quarantine_of_the_app_list_shows_no_stray_text(tmp_path) -> None:
    items = apps(30)
    items[0] |= {"app_id": "山田太郎", "operation_started_on": "山田太郎"}
    items[1] |= {"retired_on": {"担当": "山田"}}
    items[2] |= {"operation_started_on": "2025-02-30"}
    with SampleApi.nocode(items, "k") as api:
        batch = crawl(config(tmp_path, api.base_url, source="nocode_apps"), "nocode_apps", max_bad_ratio=0.5)
    bad = {b.item: b.value for b in batch.bad}
    assert bad == {"#1": "文字列（4文字）", "#2 1": "文字列（12文字）", "#3 2": "2025-02-30"}
