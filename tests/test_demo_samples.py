"""The sample data `jisseki demo` ships is what the generators in tests/ make, it stays small, the hand count
of it is the seed's FY2025 table and the ward's, and the demo's plain sample APIs page it as contracts 1 and 4
say."""
from __future__ import annotations

import json
from datetime import date
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from jisseki.demo.api import NOCODE_API, PROCEDURES_API, DemoApi
from jisseki.demo.samples import ARCHIVE, DEMO_AS_OF, NOCODE_APPS, PROCEDURES, load_samples
from tests import handcount, handcount_ward
from tests.demo_data_ward import WARD_FY2025
from tests.make_demo_samples import OUT, sample_files
from tests.support import SEED_FY2025

MAX_PACKED = 512 * 1024   # packed now: about 380 KB for about 5 MB of files


def test_making_the_samples_again_gives_the_shipped_files() -> None:
    shipped, made = load_samples().files, sample_files()
    assert sorted(shipped) == sorted(made)
    changed = [name for name in made if shipped[name] != made[name]]
    assert changed == [], "run: python -m tests.make_demo_samples"


def test_the_shipped_samples_stay_small_and_hold_every_source() -> None:
    assert OUT.name == ARCHIVE and OUT.stat().st_size < MAX_PACKED
    folders = {name.rsplit("/", 1)[0] for name in load_samples().files}
    assert folders == {"api", "db", "inbox", "inbox/tenshutsu", "inbox/speech", "inbox/dataviz", "inbox/manual",
                       "inbox/kita/queue", "inbox/kita/survey"}


def test_the_hand_count_of_the_samples_is_the_seeds_fy2025_table(tmp_path) -> None:
    samples = load_samples()
    samples.write_inbox(tmp_path)
    inbox = tmp_path / "inbox"
    figures = {**handcount.procedure_figures(samples.records(PROCEDURES), DEMO_AS_OF),
               **handcount.moveout_figures(inbox / "tenshutsu", DEMO_AS_OF),
               **handcount.speech_figures(inbox / "speech", DEMO_AS_OF),
               **handcount.nocode_figures(samples.records(NOCODE_APPS), DEMO_AS_OF),
               **handcount.dataviz_figures(inbox, DEMO_AS_OF),
               **handcount.manual_figures(inbox / "manual")}

    def fy(year: int) -> dict[str, float]:
        return {kpi: round(figure["value"], 2) for (kpi, period, scope), figure in figures.items()
                if period == f"FY{year}" and scope == "city"}

    assert fy(2025) == {kpi: actual for kpi, (actual, _, _) in SEED_FY2025.items()}
    # The prior year of the five measured KPIs is in the data too (the manual ones' is the catalog's).
    assert fy(2024) == {kpi: SEED_FY2025[kpi][2] for kpi in ("online_procedures", "myna_moveout_share",
                                                             "speech_hours_monthly", "nocode_operations",
                                                             "dataviz_department_share")}


def test_the_hand_count_of_the_wards_samples_is_its_fy2025_table(tmp_path) -> None:
    samples = load_samples()
    samples.write_inbox(tmp_path)
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "certificate_issue.csv").write_bytes(samples.files["db/certificate_issue.csv"])
    figures = handcount_ward.ward_figures(tmp_path, DEMO_AS_OF)
    fy2025 = {kpi: round(f["value"], 2) for (kpi, period, _), f in figures.items() if period == "FY2025"}
    assert fy2025 == {kpi: actual for kpi, (actual, _, _) in WARD_FY2025.items()}
    # The milestone was done before its due date (2025-10-31): its figure's day is the 入力日.
    assert figures[("kita_cashless_counter", "FY2025", "city")]["as_of"] == date(2025, 10, 20)
    # Every month of the year has tickets, certificates and answers.
    for kpi in ("kita_window_wait", "kita_konbini_share", "kita_visitor_satisfaction"):
        assert sum(1 for k, p, _ in figures if k == kpi and not p.startswith("FY")) == 12


def get(url: str, headers: dict[str, str]) -> tuple[int, dict]:
    try:
        with urlopen(Request(url, headers=headers), timeout=10) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


RECORDS = [{"id": f"P{i}"} for i in range(5)]


def test_the_procedures_api_pages_by_page_number_with_meta() -> None:
    bearer = {"Authorization": "Bearer t"}
    with DemoApi(RECORDS, "t", PROCEDURES_API) as api:
        assert get(f"{api.base_url}/v1/procedures?page=1&per_page=2", bearer) == (200, {
            "data": RECORDS[:2], "meta": {"page": 1, "per_page": 2, "total": 5, "next_page": 2}})
        assert get(f"{api.base_url}/v1/procedures?page=3&per_page=2", bearer) == (200, {
            "data": RECORDS[4:], "meta": {"page": 3, "per_page": 2, "total": 5, "next_page": None}})
        assert get(f"{api.base_url}/v1/procedures", {"Authorization": "Bearer x"})[0] == 401
        assert get(f"{api.base_url}/v1/apps", bearer)[0] == 404
        assert get(f"{api.base_url}/v1/procedures?page=0", bearer)[0] == 400
        assert get(f"{api.base_url}/v1/procedures?per_page=101", bearer)[0] == 400


def test_the_nocode_api_pages_by_offset_and_ends_with_a_short_page() -> None:
    token = {"X-Api-Token": "t"}
    with DemoApi(RECORDS, "t", NOCODE_API) as api:
        assert get(f"{api.base_url}/v1/apps?offset=0&limit=3", token) == (200, {"apps": RECORDS[:3]})
        assert get(f"{api.base_url}/v1/apps?offset=3&limit=3", token) == (200, {"apps": RECORDS[3:]})
        assert get(f"{api.base_url}/v1/apps?offset=-1", token)[0] == 400
        assert get(f"{api.base_url}/v1/apps", {"Authorization": "Bearer t"})[0] == 401

