"""A declared section as a `Source`: a CSV source is read column-wise (jisseki/declared/columnar.py), every
other type row by row (jisseki/declared/collect.py). Both ways share the typing, the suites and the measures."""
from __future__ import annotations

from jisseki.batch import Source
from jisseki.declared.collect import DeclaredMeasure, read_declared
from jisseki.declared.columnar import collect_csv
from jisseki.declared.spec import CsvSource, Declared


def declared_source(name: str, decl_type: type[Declared], title: str) -> Source:
    """Everything a declared source needs is in its declaration and the catalog."""
    if issubclass(decl_type, CsvSource):
        return Source(name, title, decl_type, bulk=collect_csv)
    return Source(name, title, decl_type, read=read_declared, measure=DeclaredMeasure)
