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
from jisseki.demo.sample_api import SampleApi
from jisseki.pipeline import collect
from jisseki.sources import SOURCE_DEFS
from tests.test_connectors import procedures

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


def config(tmp_path: Path, base_url: str, extra: str = "", token: str = 'token_env = "JISSEKI_TEST_TLS_TOKEN"'):
    path = tmp_path / "jisseki.toml"
    path.write_text(f'[sources.online_procedures]\nbase_url = "{base_url}"\n{token}\nmax_retries = 2\n'
                    f"backoff_seconds = 0.01\n{extra}\n", "utf-8")
    return load_config(path, {"JISSEKI_TEST_TLS_TOKEN": "k"}).source("online_procedures")


def crawl(cfg):
    return collect(SOURCE_DEFS["online_procedures"], cfg, CATALOG, date(2025, 4, 30), 0.05)


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
