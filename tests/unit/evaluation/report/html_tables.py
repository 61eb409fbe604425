"""Read the tables of a report back into Python (stdlib parser) so tests can check rendered values."""

from __future__ import annotations

from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[list[list[str]]]] = {}
        self._section = ""
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._section = dict(attrs).get("id") or ""
        elif tag == "table":
            self.sections.setdefault(self._section, []).append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.sections[self._section][-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables_by_section(html: str) -> dict[str, list[list[list[str]]]]:
    """``{section id: [table: [row: [cell text, ...], ...], ...]}`` with entities decoded."""
    parser = _Tables()
    parser.feed(html)
    return parser.sections


def find_table(html: str, section: str, first_header: str) -> list[list[str]]:
    """The first table of ``section`` whose header row starts with ``first_header``."""
    for t in tables_by_section(html).get(section, []):
        if t and t[0] and t[0][0] == first_header:
            return t
    raise AssertionError(f"no table starting with {first_header!r} in section {section!r}")
