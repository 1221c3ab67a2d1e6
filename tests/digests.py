"""Reading the alert digests a json:// receiver got: json:// passes the digest's HTML through as it is."""
from __future__ import annotations

from html.parser import HTMLParser


class _Entries(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self._section = ""
        self._in: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("h3", "li"):
            self._in, self._text = tag, ""
        elif tag == "br" and self._in == "li":
            self._in = "li-details"

    def handle_endtag(self, tag) -> None:
        if tag == "h3":
            self._section = self._text.removeprefix("■ ").split("（", 1)[0]
        if tag == "li" and self._in:
            self.found.append((self._section, self._text))
        if tag in ("h3", "li"):
            self._in = None

    def handle_data(self, data) -> None:
        if self._in in ("h3", "li"):
            self._text += data


def entries(messages: list[dict]) -> list[tuple[str, str]]:
    """(section, first line) of every entry of every digest, in the order received."""
    found = []
    for message in messages:
        parser = _Entries()
        parser.feed(message["message"])
        found += parser.found
    return found


def sources(messages: list[dict], section: str) -> list[str]:
    """The sources named in a section (「取込失敗・不採用」, 「データ遅延」), or those resolved, with what was
    resolved (「解消」: "【取込失敗】online_procedures")."""
    named = []
    for s, line in entries(messages):
        if s == section:
            tag = line.split("】", 1)[0] + "】" if section == "解消" else ""
            named.append(tag + line.split("）: ", 1)[0].rsplit("（", 1)[1])
    return named
