"""HTML building blocks of the report: value formatting, escaped tables, sections and the page shell.

Every piece of text that reaches the page goes through ``html.escape`` here; callers pass plain
values and get markup back. Non-finite metrics (stored as NaN / ±inf in metrics.json) render as
``n/a`` and ``∞`` / ``−∞``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

MISSING = "—"
_NAV_CLASS = {True: "", False: ' class="na"'}
_NUM = {True: ' class="num"', False: ""}

CSS = """
:root { --fg: #1f2933; --muted: #616e7c; --line: #d9e2ec; --accent: #2f6fb2; --bg-alt: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--fg); background: #fff; }
header { padding: 18px 32px; background: #102a43; color: #fff; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #bcccdc; }
nav { padding: 8px 32px; border-bottom: 1px solid var(--line); background: var(--bg-alt); position: sticky; top: 0;
      z-index: 10; display: flex; flex-wrap: wrap; gap: 4px 16px; }
nav a { color: var(--accent); text-decoration: none; white-space: nowrap; }
nav a.na { color: var(--muted); }
main { padding: 8px 32px 48px; max-width: 1400px; }
section { margin-top: 28px; }
h2 { font-size: 19px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; }
th { background: var(--bg-alt); font-weight: 600; }
td.num, th.num { text-align: right; }
tr.hl td { background: #e6f6ff; font-weight: 600; }
p.na { color: var(--muted); font-style: italic; }
p.meta { color: var(--muted); margin: 2px 0 8px; }
p.warn { color: #8a4b00; background: #fff4e0; border-left: 3px solid #c27c0e; padding: 3px 8px; margin: 4px 0 8px; }
pre { background: var(--bg-alt); border: 1px solid var(--line); padding: 10px; overflow-x: auto; font-size: 12px; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
.grid > div { flex: 0 0 auto; }
details summary { cursor: pointer; color: var(--accent); }
"""


@dataclass(frozen=True)
class Section:
    """One report section: anchor id, title, body markup, and whether any of its content was available."""

    id: str
    title: str
    body: str
    available: bool


def fmt(value: Any) -> str:
    """A value as display text (not yet escaped): NaN → ``n/a``, ±inf → ``∞``/``−∞``, None → ``—``."""
    if value is None:
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return _fmt_float(float(value))
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, allow_nan=True)
    return str(value)


def _fmt_float(v: float) -> str:
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.3f}"
    if a >= 1e-3:
        return f"{v:.4f}"
    return f"{v:.3e}"


def text(value: Any) -> str:
    """``fmt`` then escape: safe to place anywhere in the page."""
    return escape(fmt(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, highlight: Iterable[int] = ()) -> str:
    """An escaped table. Numbers are right-aligned (and so is the header of an all-number column);
    rows whose index is in ``highlight`` are emphasised."""
    marked = set(highlight)
    rows = [list(r) for r in rows]
    numeric = [
        all(_is_number(r[i]) or r[i] is None for r in rows) and any(_is_number(r[i]) for r in rows)
        for i in range(len(headers))
    ]
    head = "".join(f"<th{_NUM[numeric[i]]}>{escape(h)}</th>" for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        cells = "".join(
            f"<td{_NUM[_is_number(v) or (v is None and numeric[i])]}>{text(v)}</td>"
            for i, v in enumerate(row)
        )
        body.append(f'<tr class="hl">{cells}</tr>' if r in marked else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)


def key_value_table(items: Iterable[tuple[str, Any]]) -> str:
    """A two-column field/value table; values are left-aligned whatever their type."""
    return table(["field", "value"], [(k, fmt(v)) for k, v in items])


def unavailable(what: str) -> str:
    return f'<p class="na">{escape(what)}: not available in this run.</p>'


def heading(level: int, title: str) -> str:
    return f"<h{level}>{escape(title)}</h{level}>"


def paragraph(content: str, cls: str | None = None) -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{escape(content)}</p>"


def preformatted(obj: Any) -> str:
    return f"<pre>{escape(json.dumps(obj, indent=2, sort_keys=True, default=str))}</pre>"


def details(summary: str, body: str) -> str:
    return f"<details><summary>{escape(summary)}</summary>{body}</details>"


def page(title: str, subtitle: str, sections: Sequence[Section], plotly_js: str) -> str:
    """The whole self-contained document: CSS inline, plotly.js inline exactly once, then the sections."""
    nav = "".join(
        f'<a href="#{escape(s.id)}"{_NAV_CLASS[s.available]}>{escape(s.title)}</a>' for s in sections
    )
    body = "".join(f'<section id="{escape(s.id)}">{heading(2, s.title)}{s.body}</section>' for s in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style>"
        f'<script type="text/javascript">{plotly_js}</script></head>'
        f"<body><header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n"
    )
