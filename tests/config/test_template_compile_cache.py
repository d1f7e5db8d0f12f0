"""Templates are compiled once per source text and rendered per item with that item's data only."""

from __future__ import annotations

import jinja2
import pytest

from issueops.config.templates import TemplateContext, compiled, render


def _context(number: int, title: str) -> TemplateContext:
    return TemplateContext(
        item={"number": number, "title": title}, workflow={"name": "wf"}, repo="acme/ops", now="2026-01-01"
    )


def test_the_same_source_is_compiled_once_for_many_items() -> None:
    source = "# #{{ item.number }}: {{ item.title }} ({{ workflow.name }}, compile-cache test)\n"
    compiled.cache_clear()
    texts = [render(source, _context(n, f"title {n}")) for n in range(50)]
    info = compiled.cache_info()
    assert (info.misses, info.hits) == (1, 49)
    assert texts[0] == "# #0: title 0 (wf, compile-cache test)\n"
    assert texts[49] == "# #49: title 49 (wf, compile-cache test)\n"  # no data carried over


def test_a_changed_source_is_compiled_again() -> None:
    compiled.cache_clear()
    assert render("a {{ item.number }}", _context(1, "x")) == "a 1"
    assert render("b {{ item.number }}", _context(1, "x")) == "b 1"
    assert compiled.cache_info().misses == 2


def test_a_broken_template_fails_every_time_it_is_rendered() -> None:
    compiled.cache_clear()
    for _ in range(2):
        with pytest.raises(jinja2.TemplateSyntaxError):
            render("{% if %}", _context(1, "x"))
    assert compiled.cache_info().currsize == 0


def test_item_text_is_still_data_not_template_code() -> None:
    assert render("{{ item.title }}", _context(1, "{{ 7*7 }}")) == "{{ 7*7 }}"
