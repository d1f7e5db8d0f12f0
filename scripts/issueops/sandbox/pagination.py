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


def memo_listing(ctx: Ctx, build: Callable[[], list[T]]) -> list[T]:
    """The filtered, sorted list behind a paginated listing, built once per walk of its pages.

    Page 1 always builds it afresh; a later page of the same query (every parameter but `page`,
    the same caller) reuses it while no write request has been served since, so walking N items
    costs O(N), not O(N) a page. A write in between rebuilds it, as GitHub would answer.
    """
    # keyed by the listing (the builder's code, whatever URL form reached it), its path's
    # parameters (a ref prefix), the caller and the query
    query = tuple(sorted((k, v) for k, v in ctx.query.items() if k != "page"))
    key = (build.__code__, tuple(sorted(ctx.params.items())), ctx.login, query)
    memo = ctx.state.listings
    if ctx.query_int("page", 1) > 1:
        found = memo.get(key)
        if found is not None and found[0] == ctx.state.serial:
            return found[1]
    items = build()
    if len(items) > page_window(ctx, len(items))[1]:  # one page is all there is to walk otherwise
        memo[key] = (ctx.state.serial, items)
    else:
        memo.pop(key, None)
    return items


def paginate(ctx: Ctx, items: Sequence[T], render: Callable[[T], Any]) -> Reply:
    """Render only the requested page of `items`, with a `Link` header when there is more than one."""
    page, per_page, last = page_window(ctx, len(items))
    start = (page - 1) * per_page
    reply = Reply(200, [render(item) for item in items[start : start + per_page]])
    link = link_header(ctx, page, last)
    if link:
        reply.headers["Link"] = link
    return reply
