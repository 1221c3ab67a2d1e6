"""`jisseki publish`: a fiscal year's table frozen as it is published (about June), so that later revisions of
the figures are landed as usual and shown beside it (「公表値」「最新値」) instead of silently rewriting it.

A year is published only when it is over in the latest evaluation and every indicator of it has a grade; a
department's year is published once. What is published, per indicator and scope: the latest evaluation's
actual, target (or band), grade, status, as-of dates, rule and flow run, and the department's 所見."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jisseki.catalog import Catalog
from jisseki.core.errors import JissekiError
from jisseki.core.model import CITY
from jisseki.core.periods import JST, as_utc, fy_end
from jisseki.report import reiwa

COPIED = ("kpi_id", "fiscal_year", "scope", "actual", "target", "target_low", "target_high", "grade", "status",
          "as_of", "data_as_of", "flow_run_id", "rule")


class PublishRefused(JissekiError):
    """The year cannot be published (yet, or again): nothing was written."""


def published_rows(evaluations: Sequence[Mapping[str, Any]], notes: Mapping[tuple[str, int], str], catalog: Catalog,
                   fy: int) -> list[dict[str, Any]]:
    """The published_grade rows of the catalog's indicators graded in `fy` (a department's catalog publishes
    that department's), from the latest evaluations of the year; refused while the year is not over in them
    or an indicator has no grade."""
    indicators = [i for i in catalog.indicators if fy in i.target_years()]
    if not indicators:
        raise PublishRefused(f"{fy}年度に目標のある指標がありません。--fy と運営方針（[catalog]）を確認してください")
    ours = {i.id for i in indicators}
    mine = [e for e in evaluations if e["kpi_id"] in ours and e["fiscal_year"] == fy]
    if not mine:
        raise PublishRefused(f"{fy}年度の評価がまだありません",
                             f"{fy_end(fy)} より後の基準日で jisseki run を実行してから公表してください")
    as_of = min(e["as_of"] for e in mine)
    if as_of < fy_end(fy):
        raise PublishRefused(f"{fy}年度はまだ終わっていません（最新の評価は {as_of} 時点）",
                             f"{fy_end(fy)} 以降の基準日で jisseki run を実行してから公表してください")
    city = {e["kpi_id"]: e for e in mine if e["scope"] == CITY}
    ungraded = [i for i in indicators if city.get(i.id, {}).get("grade") is None]
    if ungraded:
        names = "、".join(f"{i.name}（{i.id}）" for i in ungraded)
        raise PublishRefused(f"{fy}年度の評価（A・B）がない指標があるため公表できません: {names}",
                             "実績がそろってから（手入力の指標は実績入力シートを取り込んでから）"
                             "jisseki run を実行し、もう一度公表してください")
    return [{**{k: e[k] for k in COPIED}, "department": catalog.get(e["kpi_id"]).department,
             "commentary": notes.get((e["kpi_id"], fy), "") if e["scope"] == CITY else ""} for e in mine]


def already_text(fy: int, departments: Sequence[str]) -> str:
    return (f"{'、'.join(departments)} の令和{reiwa(fy)}年度（{fy}年度）は公表済みです。公表した値は書き換えません"
            "（その後の訂正は status と report に「最新値」として並べて表示されます）")


@dataclass(frozen=True)
class YearPublished:
    """What `status` and `report` say of a published year."""
    fiscal_year: int
    published_on: date
    as_of: date

    def line(self) -> str:
        return (f"令和{reiwa(self.fiscal_year)}年度: 公表済（{self.published_on.isoformat()} 公表、"
                f"{self.as_of.isoformat()} 時点の評価）")


def published_lines(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[int, str], str]:
    """Per fiscal year and department, the line saying it is published: a department publishes on its own
    (`--department`), so one that has not is not told it has."""
    return {(y.fiscal_year, department): y.line() for department in dict.fromkeys(r["department"] for r in rows)
            for y in published_years([r for r in rows if r["department"] == department])}


def published_years(rows: Sequence[Mapping[str, Any]]) -> list[YearPublished]:
    """The published years, one line each (with several departments: the first publication and oldest as-of)."""
    years: dict[int, YearPublished] = {}
    for r in rows:
        day = _jst_day(r["published_at"])
        seen = years.get(r["fiscal_year"])
        if seen is None or (day, r["as_of"]) < (seen.published_on, seen.as_of):
            years[r["fiscal_year"]] = YearPublished(r["fiscal_year"], day, r["as_of"])
    return [years[fy] for fy in sorted(years)]


def _jst_day(moment: datetime) -> date:
    return as_utc(moment).astimezone(JST).date()


def by_key(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, int, str], Mapping[str, Any]]:
    return {(r["kpi_id"], r["fiscal_year"], r["scope"]): r for r in rows}
