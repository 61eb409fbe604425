"""Formatting and escaping of the report's HTML building blocks."""

from __future__ import annotations

import numpy as np
import pytest
from html_tables import tables_by_section

from mlfactory.evaluation.report.html import Section, fmt, page, table, text, unavailable


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (float("nan"), "n/a"),
        (np.float64("nan"), "n/a"),
        (float("inf"), "∞"),
        (-np.inf, "−∞"),
        (None, "—"),
        (True, "yes"),
        (np.bool_(False), "no"),
        (1234567, "1,234,567"),
        (np.int64(-42), "-42"),
        (0.0, "0"),
        (1.23456, "1.235"),
        (-419.99, "-420.0"),
        (12345.6, "12,346"),
        (0.012345, "0.0123"),
        (2.5e-5, "2.500e-05"),
        ("text", "text"),
    ],
)
def test_fmt_renders_non_finite_and_numbers_readably(value: object, shown: str) -> None:
    assert fmt(value) == shown


def test_text_and_tables_escape_everything() -> None:
    evil = '<script>alert("x")</script> & co'
    assert "<script>" not in text(evil)
    html = table(["<h>", "value"], [[evil, 1.5]])
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;h&gt;" in html
    assert "<script>" not in unavailable(evil)


def test_numbers_are_right_aligned_labels_left() -> None:
    html = table(["name", "value", "mixed"], [["a", 1.0, "x"], ["b", None, 2]])
    assert '<th>name</th><th class="num">value</th><th>mixed</th>' in html
    assert '<td>a</td><td class="num">1.000</td><td>x</td>' in html
    assert '<td>b</td><td class="num">—</td><td class="num">2</td>' in html  # a gap in a number column


def test_highlighted_rows_are_marked() -> None:
    html = table(["a"], [[1], [2], [3]], highlight=[1])
    assert html.count('class="hl"') == 1 and '<tr class="hl"><td class="num">2</td>' in html


def test_page_embeds_the_script_once_and_escapes_titles() -> None:
    sections = [Section("s1", "One <1>", table(["k"], [["v"]]), True), Section("s2", "Two", "", False)]
    html = page("Title & <more>", "sub", sections, plotly_js="/*PLOTLY*/")
    assert html.count("/*PLOTLY*/") == 1
    assert "Title &amp; &lt;more&gt;" in html and "One &lt;1&gt;" in html
    assert '<a href="#s2" class="na">Two</a>' in html  # unavailable sections are greyed in the nav
    assert tables_by_section(html)["s1"] == [[["k"], ["v"]]]
