"""GitHub-style page slicing and the `Link` header (rel next, last, first, prev)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from issueops.sandbox.http import Ctx, Reply

T = TypeVar("T")
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


def page_window(ctx: Ctx, total: int) -> tuple[int, int, int]:
    """(page, per_page, last_page) from the query, clamped as GitHub clamps them."""
    per_page = ctx.query_int("per_page", DEFAULT_PER_PAGE)
    per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
    page = max(ctx.query_int("page", 1), 1)
    last = max((total + per_page - 1) // per_page, 1)
    return page, per_page, last


def link_header(ctx: Ctx, page: int, last: int) -> str | None:
    """The `Link` header for `page` of `last`; None when everything fits on one page."""
    if last <= 1 and page <= 1:
        return None
    pairs = [(k, v) for k, v in parse_qsl(ctx.raw_query, keep_blank_values=True) if k != "page"]
    base = f"{ctx.render.base}{ctx.render.link_path(ctx.path)}"

    def url(n: int) -> str:
        return f"{base}?{urlencode([*pairs, ('page', str(n))])}"

    links: list[str] = []
    if page > 1:
        links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
    if page < last:
        links.append(f'<{url(page + 1)}>; rel="next"')
        links.append(f'<{url(last)}>; rel="last"')
    if page > 1:
        links.append(f'<{url(1)}>; rel="first"')
    return ", ".join(links) if links else None


def paginate(ctx: Ctx, items: Sequence[T], render: Callable[[T], Any]) -> Reply:
    """Render only the requested page of `items`, with a `Link` header when there is more than one."""
    page, per_page, last = page_window(ctx, len(items))
    start = (page - 1) * per_page
    reply = Reply(200, [render(item) for item in items[start : start + per_page]])
    link = link_header(ctx, page, last)
    if link:
        reply.headers["Link"] = link
    return reply
