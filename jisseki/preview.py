"""`jisseki preview`: one source collected exactly as the nightly run collects it (pipeline.collect with the
catalog's measures), and what would land shown instead of landed: the figures, the rows set aside and why,
whether the batch would be rejected. GX validates in memory; no warehouse, no state folder, no alert: nothing
is written anywhere."""
from __future__ import annotations

from datetime import date
from typing import Any

from jisseki.batch import Batch
from jisseki.catalog import Catalog
from jisseki.config import Config
from jisseki.core.errors import UsageError
from jisseki.core.model import Figure
from jisseki.core.normalize import scope_name
from jisseki.pipeline import collect
from jisseki.rejections import reason_text
from jisseki.report import aligned

SHOWN_ROWS = 20   # the rows set aside that are listed; the counts per reason cover all of them


def preview(config: Config, catalog: Catalog, name: str, as_of: date) -> Batch:
    """The batch the nightly run would land for the source (SourceError when it cannot be read)."""
    if name not in config.enabled_sources():
        raise UsageError(f"--source {name} というソースは設定ファイルにありません",
                         f"選べるもの: {', '.join(config.enabled_sources())}")
    source = config.source_def(name)
    return collect(source, config.source(name), catalog, as_of,
                   config.max_bad_ratio(name, source.default_max_bad_ratio))


def ordered(figures: list[Figure], catalog: Catalog) -> list[Figure]:
    """In catalog order; each indicator's months, then its fiscal year; city-wide before each scope."""
    order = {ind.id: n for n, ind in enumerate(catalog.indicators)}
    return sorted(figures, key=lambda f: (order.get(f.kpi_id, len(order)), f.kpi_id, f.period.startswith("FY"),
                                          f.period, f.scope != "city", f.scope))


def number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def value_text(figure: Figure, catalog: Catalog) -> str:
    ind = catalog.get(figure.kpi_id)
    if ind.kind == "ratio":
        return f"{number(figure.value * 100, 2)}%"
    if ind.kind == "milestone":
        return "完了" if figure.value >= 1 else "未完了"
    return f"{number(figure.value)}{ind.unit}"


def reason_counts(batch: Batch) -> list[tuple[str, int]]:
    return sorted(batch.reasons().items(), key=lambda kv: (-kv[1], kv[0]))


def render(batch: Batch, catalog: Catalog, label: str) -> str:
    lineage = batch.lineage
    units = f"ページ {lineage.pages_read} 件" if lineage.pages_read else f"ファイル {len(lineage.files)} 件"
    out = [f"{label}: 基準日 {batch.as_of} の夜間処理で取り込まれる内容（プレビュー。何も書き込んでいません）",
           f"読んだ行: {batch.rows_read} 行（{units}）、除外: {batch.bad_rows} 行",
           f"取り込み: {'されません — ' + batch.rejected if batch.rejected else 'されます'}", ""]
    figures = ordered(batch.figures, catalog)
    if figures:
        out.append(f"集計値 {len(figures)} 件")
        rows = [{"指標": f.kpi_id, "名前": catalog.get(f.kpi_id).name, "期間": f.period, "範囲": scope_name(f.scope),
                 "値": value_text(f, catalog), "分子": number(f.numerator), "分母": number(f.denominator)}
                for f in figures]
        ratio = any(f.denominator is not None for f in figures)
        out += aligned(rows, ["指標", "名前", "期間", "範囲", "値", *(["分子", "分母"] if ratio else [])])
    else:
        out.append("集計値はありません")
    out.append("")
    if not batch.bad:
        out.append("除外した行はありません")
        return "\n".join(line.rstrip() for line in out) + "\n"
    out.append("除外の理由")
    out += aligned([{"理由コード": code, "行数": str(n), "説明": reason_text(code)} for code, n in reason_counts(batch)],
                   ["理由コード", "行数", "説明"])
    out.append("")
    shown = batch.bad[:SHOWN_ROWS]
    out.append(f"除外した行（{len(batch.bad)} 件のうち最初の {len(shown)} 件）" if len(batch.bad) > len(shown)
               else f"除外した行（{len(shown)} 件）")
    out += aligned([{"場所": b.location, "行": b.item, "理由": b.reason, "値": b.value} for b in shown],
                   ["場所", "行", "理由", "値"])
    return "\n".join(line.rstrip() for line in out) + "\n"


def as_json(batch: Batch, catalog: Catalog, title: str) -> dict[str, Any]:
    return {
        "source": batch.source, "title": title, "as_of": batch.as_of.isoformat(), "rows_read": batch.rows_read,
        "quarantined_rows": batch.bad_rows, "rejected": batch.rejected,
        "figures": [{"kpi_id": f.kpi_id, "name": catalog.get(f.kpi_id).name, "unit": catalog.get(f.kpi_id).unit,
                     "period": f.period, "scope": f.scope, "value": f.value, "numerator": f.numerator,
                     "denominator": f.denominator} for f in ordered(batch.figures, catalog)],
        "reasons": [{"code": code, "rows": n, "text": reason_text(code)} for code, n in reason_counts(batch)],
        "quarantine": [{"location": b.location, "item": b.item, "code": b.code, "reason": b.reason, "value": b.value}
                       for b in batch.bad[:SHOWN_ROWS]],
    }
