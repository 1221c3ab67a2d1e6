"""The README's worked declarations are real: each loads as a config section, stays under 25 lines of TOML, and the
indicators it shows count from it; its policy-file examples are valid indicators, one of each kind of target."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from jisseki.catalog import Band, Change, Indicator, load_catalog
from jisseki.config import load_config
from jisseki.declared.collect import measure_problems
from jisseki.declared.spec import MeasureSpec

README = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
SECTION = README.split("### Adding a source\n", 1)[1].split("\n### ", 1)[0]
BLOCKS = re.findall(r"```toml\n(.*?)```", SECTION, re.S)
# The measures the text gives for the SQL and REST examples, after each.
INLINE = dict(re.findall(r"\[sources\.(\w+)\](?:(?!\[sources\.\w+\]).)*?its indicator: `measure = (\{.*?\})`",
                         SECTION, re.S))


def test_every_declaration_loads_is_short_and_its_indicator_counts_from_it(tmp_path: Path) -> None:
    declarations = [b for b in BLOCKS if b.lstrip().startswith("[sources.")]
    assert [re.search(r"type = \"(\w+)\"", b)[1] for b in declarations] == ["csv", "sql", "rest"]
    for block in declarations:
        assert len(block.strip().splitlines()) < 25
    (tmp_path / "jisseki.toml").write_text("\n".join(declarations), "utf-8")
    config = load_config(tmp_path / "jisseki.toml", {"JISSEKI_CERT_DB_URL": "sqlite://", "JISSEKI_FORMS_TOKEN": "t"})
    assert list(config.declared) == ["window_queue", "certificates", "forms"]
    indicator = Indicator.model_validate(tomllib.loads(next(b for b in BLOCKS if "[[indicators]]" in b))
                                         ["indicators"][0])
    assert indicator.measure is not None
    measures = {"window_queue": indicator.measure,
                **{name: MeasureSpec.model_validate(tomllib.loads(f"m = {text}")["m"]) for name, text in INLINE.items()}}
    assert set(measures) == set(config.declared)
    for name, measure in measures.items():
        assert measure_problems(config.declared[name], {"kpi": measure}) == [], name


POLICY = README.split("## 運営方針ファイル (the catalog)\n", 1)[1].split("\n## ", 1)[0]


def test_the_policy_file_examples_are_valid_indicators_one_of_each_kind_of_target() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", POLICY, re.S)
    indicators = [Indicator.model_validate(tomllib.loads(b)["indicators"][0]) for b in blocks]
    change, band, amount, plan, milestone, scoped = indicators
    assert isinstance(change.targets[2025], Change) and change.kind == "mean" and change.direction == "at_most"
    assert isinstance(band.targets[2025], Band) and band.direction == "within"
    assert isinstance(amount.targets[2025], Change) and amount.targets[2025].baseline_year(2025) == 2023
    assert plan.plan is not None and plan.target_spec(2025) == 100.2 and plan.pace == "progress_ratio"
    assert milestone.due is not None and milestone.target_years() == [2025]
    assert scoped.pace == "seasonal" and scoped.target_spec(2025, "271276") == 0.30
    # Those the demo's ward policy has are written there as here.
    ward = {i.id: i for i in load_catalog([Path(__file__).resolve().parent.parent / "jisseki" / "catalogs"
                                           / "kita-fy2025.toml"]).indicators}
    for shown in (change, band, plan, milestone):
        assert ward[shown.id].model_dump(exclude={"department", "policy", "actuals"}) == \
            shown.model_dump(exclude={"department", "policy", "actuals"}), shown.id
