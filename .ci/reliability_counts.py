"""Per test module: passed, failed, skipped, from pytest's JUnit XML (the counts in RELIABILITY.md)."""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter


def main(path: str) -> None:
    counts: dict[str, Counter] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")[1] if "." in case.get("classname", "") else case.get("classname")
        outcome = "failed" if case.find("failure") is not None or case.find("error") is not None else \
            "skipped" if case.find("skipped") is not None else "passed"
        counts.setdefault(module, Counter())[outcome] += 1
    total = sum(counts.values(), Counter())
    print("| test module | passed | failed | skipped |\n|---|---:|---:|---:|")
    for module, c in sorted(counts.items()):
        print(f"| `{module}` | {c['passed']} | {c['failed']} | {c['skipped']} |")
    print(f"| **all** | **{total['passed']}** | **{total['failed']}** | **{total['skipped']}** |")
    # The plain closing line, so a reader of the last lines sees the same totals as pytest's.
    skipped = f", {total['skipped']} skipped" if total["skipped"] else ""
    print(f"{total['passed']} passed, {total['failed']} failed{skipped}")


if __name__ == "__main__":
    main(sys.argv[1])
