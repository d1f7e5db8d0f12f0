"""Static template checks: named cases of what is allowed and what is reported (with its line)."""

from __future__ import annotations

import pytest

from issueops.config.template_check import check_template

CLEAN = [
    ("plain text", "Hello world\n"),
    ("every variable", "{{ item.title }} {{ workflow.name }} {{ owner }} {{ repo }} {{ now }} {{ branch }}"),
    ("any form field", "{{ form.severity | default('n/a') }} {{ form['Which team'] | default('') }}"),
    ("loop variable and loop", "{% for l in item.labels %}{{ loop.index }} {{ l }}{% endfor %}"),
    ("set variable", "{% set n = item.number %}{{ n }}"),
    ("globals", "{% for i in range(3) %}{{ i }}{% endfor %}{% set ns = namespace(x=1) %}{{ ns.x }}"),
    ("slug filter", "{{ item.title | slug }}"),
    ("string method on text", "{{ owner.upper() }} {{ now[:10] }}"),
    ("macro parameters", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(item.title) }}"),
    ("subscript of item", "{{ item['number'] }}"),
]

BROKEN = [
    ("unknown variable", "line\n{{ title }}\n", 2, "unknown variable 'title'"),
    ("typo of owner", "{{ onwer }}", 1, "did you mean 'owner'"),
    ("item attribute typo", "\n\n{{ item.nubmer }}", 3, "did you mean 'number'"),
    ("workflow attribute", "{{ workflow.owner }}", 1, "'workflow' has no attribute 'owner'"),
    ("item subscript typo", "{{ item['autor'] }}", 1, "did you mean 'author'"),
    ("attribute of text", "{{ owner.login }}", 1, "'owner' is text"),
    ("unclosed block", "{% if item.title %}\nx\n", 2, "template syntax error"),
    ("unclosed expression", "a\n{{ item.title \n", 2, "template syntax error"),
    ("unknown filter", "{{ item.title | titlecase }}", 1, "No filter named 'titlecase'"),
    ("unknown test", "{% if item.title is shiny %}{% endif %}", 1, "no test named 'shiny'"),
    (
        "unknown filter in a condition",
        "\n{% if item.title | shout %}{% endif %}",
        2,
        "no filter named 'shout'",
    ),
    ("include", "{% include 'x.md' %}", 1, "not supported"),
    ("extends", "{% extends 'base.md' %}", 1, "not supported"),
    ("import", "{% import 'macros.md' as m %}", 1, "not supported"),
]


@pytest.mark.parametrize("source", [c[1] for c in CLEAN], ids=[c[0] for c in CLEAN])
def test_clean_templates_have_no_issues(source: str) -> None:
    assert check_template(source) == []


@pytest.mark.parametrize(("source", "line", "text"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_templates_are_reported_on_their_line(source: str, line: int, text: str) -> None:
    issues = check_template(source)
    assert any(i.line == line and text in i.message for i in issues), issues
