"""Alerts routed per department ([alerts.routes]): two departments' policies, a loopback receiver for each
department and one city-wide. The city-wide channel hears everything; a department hears its own indicators
and the sources they read, never another department's."""
from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from jisseki.alerts.run import process_alerts
from jisseki.catalog import Catalog, load_catalog
from jisseki.check import check
from jisseki.cli import main
from jisseki.config import load_config
from jisseki.core.errors import ConfigError
from jisseki.evaluate import Verdict
from tests.digests import entries
from tests.support import WARD, WARD_POLICY, Receiver
from warehouse.store import connect, record_failure

AS_OF = date(2026, 3, 31)
@pytest.fixture
def receivers():
    made = {name: Receiver() for name in ("city", "office", "ward")}
    yield made
    for r in made.values():
        r.close()


def setup(tmp_path: Path, receivers: dict[str, Receiver], routes: str | None = None) -> tuple[Path, Catalog]:
    ward = tmp_path / "kita-fy2025.toml"
    ward.write_text(WARD_POLICY, "utf-8")
    bundled = Path(str(resources.files("jisseki.catalogs").joinpath("fy2025.toml")))
    routes = routes if routes is not None else (f'"デジタル統括室" = ["{receivers["office"].url()}"]\n'
                                                f'"{WARD}" = ["env:JISSEKI_TEST_WARD_URL"]\n')
    config = tmp_path / "jisseki.toml"
    config.write_text(f'[warehouse]\nurl = "sqlite:///{tmp_path / "w.db"}"\n\n'
                      f'[catalog]\npath = ["{bundled}", "{ward.name}"]\n\n'
                      f'[alerts]\nurls = ["{receivers["city"].url()}"]\n\n[alerts.routes]\n{routes}', "utf-8")
    return config, load_catalog(load_config(config).catalog.path)


def missed(kpi_id: str, actual: float, target: float) -> Verdict:
    return Verdict(kpi_id, 2025, AS_OF, actual, target, "B", "missed", actual, None, AS_OF, "—")


def achieved(kpi_id: str, actual: float, target: float) -> Verdict:
    return Verdict(kpi_id, 2025, AS_OF, actual, target, "A", "achieved", actual, None, AS_OF, "—")


def heard(receiver: Receiver) -> list[str]:
    return [line for _, line in entries(receiver.messages)]


def test_a_department_hears_its_own_indicators_and_sources_and_the_city_hears_everything(
        tmp_path, receivers, monkeypatch) -> None:
    monkeypatch.setenv("JISSEKI_TEST_WARD_URL", receivers["ward"].url())
    config_path, catalog = setup(tmp_path, receivers)
    assert catalog.departments() == ["デジタル統括室", WARD]
    config = load_config(config_path)
    engine = connect(config.warehouse.url)
    # manual_entries is read by both departments' indicators; speech_usage only by the Digital Office's.
    record_failure(engine, "manual_entries", AS_OF, "シートが読めません", "r1")
    record_failure(engine, "speech_usage", AS_OF, "フォルダがありません", "r1")
    verdicts = [missed("speech_hours_monthly", 403, 1870), missed("kita_window_wait", 18.5, 15)]
    summary = process_alerts(engine, config, catalog, verdicts, AS_OF, "r1")
    assert summary.sent == 3 and summary.failed == 0 and summary.pending == 0

    ward, office, city = (heard(receivers[name]) for name in ("ward", "office", "city"))
    assert len(receivers["ward"].messages) == len(receivers["office"].messages) == 1
    assert len(ward) == 2 and any("kita_window_wait" in line and "目標 15.0分以下" in line for line in ward)
    assert any(line.startswith("実績入力シート（manual_entries）: 取込失敗") for line in ward), ward
    assert not any("speech" in line for line in ward), ward
    assert len(office) == 3 and not any("kita_window_wait" in line for line in office), office
    assert len(city) == 4 and set(ward) | set(office) == set(city)

    # The ward's indicator recovers: its 解消 goes where its alert went, the Digital Office hears nothing.
    verdicts = [missed("speech_hours_monthly", 403, 1870), achieved("kita_window_wait", 14, 15)]
    process_alerts(engine, config, catalog, verdicts, AS_OF, "r2")
    assert len(receivers["office"].messages) == 1
    assert [s for s, _ in entries(receivers["ward"].messages[1:])] == ["解消"]
    assert [s for s, _ in entries(receivers["city"].messages[1:])] == ["解消"]
    engine.dispose()


def test_a_route_to_a_department_no_policy_has_is_a_config_error_naming_it(tmp_path, receivers, capsys) -> None:
    config_path, catalog = setup(tmp_path, receivers, f'"西区役所" = ["{receivers["ward"].url()}"]\n')
    # `jisseki run` says so before Prefect starts or anything is read or made.
    assert main(["run", "--config", str(config_path)]) == 2
    assert "設定エラー: [alerts.routes] 所属「西区役所」" in capsys.readouterr().err and not (tmp_path / "w.db").exists()
    config = load_config(config_path)
    with pytest.raises(ConfigError, match="所属「西区役所」の運営方針はありません.*デジタル統括室、北区役所"):
        process_alerts(connect(config.warehouse.url), config, catalog, [], AS_OF, "r1")
    catalog_line = check(config, catalog, AS_OF)[0]
    assert not catalog_line.ok and any("西区役所" in f.text for f in catalog_line.findings)
    assert receivers["ward"].messages == [] and receivers["city"].messages == []


def test_a_route_url_from_the_environment_must_be_set_and_is_never_stored(tmp_path, receivers, monkeypatch) -> None:
    monkeypatch.delenv("JISSEKI_TEST_WARD_URL", raising=False)
    config_path, _ = setup(tmp_path, receivers)
    with pytest.raises(ConfigError, match=f"JISSEKI_TEST_WARD_URL（\\[alerts.routes\\] {WARD}）"):
        load_config(config_path).alerts.route_urls()
    secret = receivers["ward"].url("hook-Sekret-Ward")
    monkeypatch.setenv("JISSEKI_TEST_WARD_URL", secret)
    config = load_config(config_path)
    catalog = load_catalog(config.catalog.path)
    engine = connect(config.warehouse.url)
    process_alerts(engine, config, catalog, [missed("kita_window_wait", 18.5, 15)], AS_OF, "r1")
    assert len(receivers["ward"].messages) == 1
    engine.dispose()
    assert b"Sekret" not in (tmp_path / "w.db").read_bytes()
