"""`jisseki check`: every configured source tried as far as its declaration can be without landing anything,
for the person writing one. The catalog's measures against the declared columns; then a probe: a file
source's first file (its header, its first rows), a SQL source's query (its first rows), a REST source's first
page (where its records are, the declared columns in the first record, the page's rows). The rows go through
the nightly path (pipeline.collect: typed, validated by the suites the declaration makes, measured) with GX in
memory, no warehouse and no state: nothing is written anywhere. A built-in source that is no declaration is
checked as its config section and the catalog (loading them already did that)."""
from __future__ import annotations

import dataclasses
import glob
from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import cast

from connectors.files import shown_path
from jisseki.batch import Batch, RunContext, Source
from jisseki.catalog import Catalog
from jisseki.config import Config
from jisseki.core.errors import JissekiError
from jisseki.core.records import Bad, Lineage, Record
from jisseki.declared.collect import measure_problems, read_declared
from jisseki.declared.delivered import source_files
from jisseki.declared.spec import Declared, Files, JsonlSource, Paginator, RestSource, SqlSource
from jisseki.pipeline import collect, measures
from jisseki.secrets import declared_secret
from jisseki.sources import SOURCES

SAMPLE_ROWS = 100        # the first rows of a source tried through the nightly path
SHOWN_REASONS = 5        # the commonest quarantine reasons named per source
MEASURE_HINT = "運営方針（カタログ）の measure と設定ファイルの [sources.{name}] の columns を合わせてください"
HEADER_HINT = ("ファイルの見出しの列名と [sources.{name}.columns] を合わせてください"
               "（見出しの名前が違う列は source = \"見出しの名前\" で指定できます）")
ROWS_HINT = "除外の理由を見て、列の type・format・規則（allowed・min・max・pattern）を見直してください"


@dataclass(frozen=True)
class Finding:
    """A problem (the source would fail or be rejected) or a warning (it would run, perhaps not as meant)."""
    text: str
    hint: str = ""
    warning: bool = False


@dataclass
class Checked:
    """One line of the report: what was checked of one source (or of the catalog), and what was found."""
    name: str
    label: str
    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(not f.warning for f in self.findings)


def check(config: Config, catalog: Catalog, as_of: date) -> list[Checked]:
    """The catalog's line, then one per configured source, in the config's order."""
    configured = set(config.enabled_sources())
    path = config.catalog.path
    where = ("、".join(shown_path(p) for p in path) if isinstance(path, list) else shown_path(path)) if path \
        else "同梱の運営方針"
    catalog_line = Checked("catalog", f"運営方針（{where}）", [f"指標 {len(catalog.indicators)} 件の source"])
    for ind in catalog.indicators:
        if ind.source not in SOURCES and ind.source not in configured:
            catalog_line.findings.append(Finding(
                f"指標 {ind.id} の source {ind.source} は組み込みのソースでも、設定ファイルで宣言したソースでもありません",
                f"設定ファイルに [sources.{ind.source}] を宣言するか、指標の source を直してください"))
    routes = config.alerts.route_problem(catalog.departments())
    if routes:
        catalog_line.findings.append(Finding(routes, "[alerts.routes] の所属名は運営方針の department のとおりに"
                                                     "書いてください"))
    return [catalog_line, *(check_source(config, catalog, name, as_of) for name in config.enabled_sources())]


def check_source(config: Config, catalog: Catalog, name: str, as_of: date) -> Checked:
    source, cfg = config.source_def(name), config.source(name)
    out = Checked(name, source.label)
    kpis = catalog.kpis(name)
    if not isinstance(cfg, Declared):
        out.checked.append(f"設定と運営方針の指標 {len(kpis)} 件")
        return out
    used = measures(source, catalog)
    out.checked.append(f"指標 {len(kpis)} 件の measure")
    problems = measure_problems(cfg, used)
    out.findings += [Finding(p, MEASURE_HINT.format(name=name)) for p in problems]
    out.findings += [Finding(f"指標 {kpi} に measure（何を数えるか）がありません", "運営方針のその指標に measure を書いてください")
                     for kpi in kpis if kpi not in used]
    if not kpis:
        out.findings.append(Finding("運営方針にこのソースを使う指標がありません（読んでも集計値はできません）",
                                    f"指標の source に {name} と書いてください", warning=True))
    # With measures that cannot be counted the reader refuses to start: the probe reads the rows without them.
    probe_catalog = catalog if not problems else catalog.model_copy(
        update={"indicators": [i for i in catalog.indicators if i.source != name]})
    probe = Probe(source, probe_catalog, as_of, config.max_bad_ratio(name, source.default_max_bad_ratio))
    try:
        if isinstance(cfg, Files):
            out.checked += probe.files(cfg, out.findings)
        elif isinstance(cfg, SqlSource):
            out.checked += probe.sql(cfg, out.findings)
        elif isinstance(cfg, RestSource):
            out.checked += probe.rest(cfg, out.findings)
    except JissekiError as exc:
        out.findings.append(Finding(exc.args[0] if exc.args else str(exc), exc.hint))
    return out


@dataclass(frozen=True)
class Probe:
    source: Source
    catalog: Catalog
    as_of: date
    max_bad_ratio: float

    def files(self, cfg: Files, findings: list[Finding]) -> list[str]:
        paths = source_files(cfg)   # a folder that is not there fails here, as it would the nightly run
        if not paths:
            findings.append(Finding(f"フォルダ {shown_path(cfg.path)} に {cfg.glob()} に合うファイルがありません"
                                    "（列を確かめられません）", "見本のファイルを 1 つ置いてから確かめ直してください",
                                    warning=True))
            return ["ファイル 0 件"]
        first = cfg.model_copy(update={"pattern": glob.escape(paths[0].name)})
        batch, records = self.sample(first)
        whole = [b for b in batch.bad if b.item in ("header", "file")]
        for bad in whole:
            findings.append(Finding(f"{bad.location}: {bad.reason}", HEADER_HINT.format(name=self.source.name)))
        if not whole:
            if isinstance(cfg, JsonlSource):
                findings += absent_columns(cfg, records)
            findings += self.rows(batch)
        shown = batch.lineage.files[0].name if batch.lineage.files else paths[0].name
        what = "見出しと" if not isinstance(cfg, JsonlSource) else ""
        return [f"ファイル {len(paths)} 件（最初の {shown} の{what}先頭 {batch.rows_read} 行）"]

    def sql(self, cfg: SqlSource, findings: list[Finding]) -> list[str]:
        batch, _ = self.sample(cfg)
        findings += self.rows(batch)
        return [f"query の実行（先頭 {batch.rows_read} 行）"]

    def rest(self, cfg: RestSource, findings: list[Finding]) -> list[str]:
        from jisseki.declared import read_rest as rest

        client = rest.client_for(cfg, declared_secret(cfg))
        try:
            request = rest.paginator(cfg, client).first()
            params = {**cfg.params, **request.params}
            where = client.describe(cfg.path, params)
            body = client.get_json(cfg.path, params)
        finally:
            client.session.close()
        items = rest.dig(body, cfg.records_path)
        if not isinstance(items, list):
            at = f"records_path の {cfg.records_path}" if cfg.records_path else "応答そのもの（records_path が空）"
            keys = f"（応答の最上位のキー: {'、'.join(list(body)[:10])}）" if isinstance(body, dict) and body else ""
            findings.append(Finding(f"{where}: {at} がレコードの配列ではありません{keys}",
                                    "records_path に、レコードの配列がある JSON のパス（例: data、result.items）を書いてください"))
            return ["最初のページ"]
        if not items:
            findings.append(Finding(f"{where}: 最初のページにレコードがありません（列を確かめられません）",
                                    "レコードのある条件（params）で確かめ直してください", warning=cfg.allow_empty))
            return ["最初のページ（0 件）"]
        first = items[0]
        if not isinstance(first, dict):
            findings.append(Finding(f"{where}: 最初のレコードが JSON オブジェクトではありません",
                                    "records_path がレコード（オブジェクト）の配列を指しているか確かめてください"))
            return [f"最初のページ（{len(items)} 件）"]
        missing = [f"{n}（{c.where(n)}）" if c.source else n for n, c in cfg.columns.items()
                   if rest.dig(first, c.where(n)) is rest.ABSENT]
        if missing:
            findings.append(Finding(f"{where}: 最初のレコードに宣言の列 {'、'.join(missing)} がありません",
                                    "columns の source に、レコードの中のその値の場所（例: meta.updated_at）を書いてください"))
            return [f"最初のページ（{len(items)} 件）"]
        # The page's rows through the nightly path: the same request again, as a declaration of one page.
        single = cfg.model_copy(update={"paginator": Paginator(), "params": params})
        batch, _ = self.sample(single)
        findings += self.rows(batch)
        return [f"最初のページ（{len(items)} 件）の records_path と列、先頭 {batch.rows_read} 行"]

    def sample(self, cfg: Declared) -> tuple[Batch, list[Record]]:
        """The source's first rows (up to SAMPLE_ROWS) read, typed, validated and measured as the nightly run
        does, with nothing kept: the reader is closed after them (a query's transaction rolled back)."""
        records: list[Record] = []

        def read(ctx: RunContext, lineage: Lineage) -> Iterator[Record | Bad]:
            # A generator: closing it ends the read (a query's transaction rolled back, its connection closed).
            items = cast(Generator[Record | Bad, None, None], read_declared(ctx, lineage))
            try:
                for count, item in enumerate(items, 1):
                    if isinstance(item, Record):
                        records.append(item)
                    yield item
                    if count >= SAMPLE_ROWS:
                        break
            finally:
                items.close()

        source = dataclasses.replace(self.source, read=read)
        return collect(source, cfg, self.catalog, self.as_of, self.max_bad_ratio), records

    def rows(self, batch: Batch) -> list[Finding]:
        """What the first rows say: the batch would be rejected (a problem), or some rows set aside (a warning)."""
        if not batch.bad and batch.rejected is None:
            return []
        counts: Counter[str] = Counter()
        for bad in batch.bad:
            counts[bad.reason] += bad.rows
        why = "、".join(f"{reason} {n} 行" for reason, n in counts.most_common(SHOWN_REASONS))
        more = f" ほか {len(counts) - SHOWN_REASONS} 種類" if len(counts) > SHOWN_REASONS else ""
        if batch.rejected is not None:
            return [Finding(f"先頭 {batch.rows_read} 行では取り込まれません: {batch.rejected}", ROWS_HINT)]
        return [Finding(f"先頭 {batch.rows_read} 行のうち {batch.bad_rows} 行は除外されます（{why}{more}）",
                        ROWS_HINT, warning=True)]


def absent_columns(cfg: Declared, records: list[Record]) -> list[Finding]:
    """Columns no row read has a value in: a JSON path that leads nowhere reads as an empty value, not an error."""
    if not records:
        return []
    # A record's key: reading order, day, scope, then each declared column's value (collect.py).
    empty = [name for i, name in enumerate(cfg.columns) if all(r.key[3 + i] is None for r in records)]
    if not empty:
        return []
    return [Finding(f"列 {'、'.join(empty)} の値が先頭 {len(records)} 行のどれにもありません",
                    "columns の source に、JSON の中のその値の場所（例: meta.updated_at）を書いてください", warning=True)]


def render(lines: list[Checked]) -> str:
    out: list[str] = []
    for line in lines:
        mark, verdict = ("✓", "問題なし") if line.ok else ("✗", "問題あり")
        out.append(f"{mark} {line.label}: {verdict} — 確かめたこと: {'、'.join(line.checked)}")
        for f in line.findings:
            out.append(f"    {'注意' if f.warning else '問題'}: {f.text}")
            if f.hint:
                out.append(f"      → {f.hint}")
    bad = [line for line in lines if not line.ok]
    out.append(f"運営方針とソース {len(lines) - 1} 件を確かめました: "
               + (f"{len(bad)} 件に問題があります" if bad else "問題はありません"))
    return "\n".join(out) + "\n"

