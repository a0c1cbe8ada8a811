"""Caching: what is the same for everyone who gets it, and each user's own pages until something they see changes.

The cache is Django's cache framework (CACHE_URL: Redis in production, so every web process shares
it; per-process memory by default). Nothing here is needed for correctness: a miss recomputes.
"""

import difflib
import hashlib
import re
import secrets
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache, caches
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.template.loader import get_template, render_to_string
from django.utils import timezone, translation
from django.utils.functional import cached_property
from django.utils.safestring import mark_safe

ANONYMOUS_PAGE_SECONDS = 60


def cache_key(*parts) -> str:
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]
    return f"{parts[0]}:{digest}"


class CachedCountPaginator(Paginator):
    """A paginator whose total is cached under `key` for `timeout` seconds (the page itself is not)."""

    def __init__(self, object_list, per_page, *, key: str, timeout: int = ANONYMOUS_PAGE_SECONDS, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.key, self.timeout = key, timeout

    @cached_property
    def count(self) -> int:
        return cache.get_or_set(self.key, self.object_list.count, self.timeout)


# --- a user's own pages (dashboard, contract, milestone, wallet, inbox, thread): kept until what they show changes ---
#
# Each user has a stamp (a random token in the default cache, shared by every web process when CACHE_URL is Redis).
# A page's rendered main content is cached in the pages cache (PAGE_CACHE_URL) under the stamp, with everything else the
# rendering reads from the request: the path and query string, language, timezone, the CSRF secret its forms carry,
# the template's source, and the current minute (PAGE_CACHE_SECONDS: countdowns and "may I still do this" are
# rounded to it). Whatever changes what a user sees drops their stamp when it commits (`user_pages_stale`), so their
# next request renders anew; until the commit, the connection that made the change renders that user's pages afresh:
# - every entry in the ledger, for the users whose wallet lists it (escrow.ledger);
# - every message, contract event, notification and read mark, for the thread's participants (messaging.services);
# - every request that writes (POST and the like), for the user who made it (UserPagesStaleMiddleware).
# Anything else (an edit in the admin, say) shows within the minute: no page is served from an earlier minute.
# PAGE_CACHE_VERIFY (the test settings) renders every hit again and fails when the two differ.

STAMP_KEY = "pages:stamp:{}"


class _ForgetOnCommit:
    """An on-commit callback that deletes cache keys. Until it has run, the users it names have changes in this
    connection's open transaction that no other connection sees yet (`changed_uncommitted`)."""

    def __init__(self, keys: list[str], user_ids):
        self.keys, self.user_ids, self.done = keys, frozenset(user_ids), False

    def __call__(self) -> None:
        self.done = True
        cache.delete_many(self.keys)


def forget_on_commit(keys, *, user_ids) -> None:
    """Delete these cache keys (what the users see, cached) once the current transaction commits, never before: no
    network call while the transaction holds its row locks. Until then this connection reads those users' pages and
    counts afresh (`changed_uncommitted`); other connections see the data before the change, and whatever they cache
    meanwhile is dropped at the commit."""
    keys = sorted(set(keys))
    if keys and settings.CACHE_DROP_AT_ONCE:  # the test settings: a test's transaction never commits
        _ForgetOnCommit(keys, user_ids)()
    elif keys:
        transaction.on_commit(_ForgetOnCommit(keys, user_ids), robust=True)


def changed_uncommitted(user_id: int) -> bool:
    """Whether this connection's open transaction has changed what the user sees (a rolled-back savepoint's changes
    no longer count: Django drops its on-commit callbacks)."""
    return any(
        isinstance(callback, _ForgetOnCommit) and not callback.done and user_id in callback.user_ids
        for _savepoints, callback, _robust in connection.run_on_commit
    )


def user_pages_stale(*user_ids) -> None:
    """What these users see has changed: their cached pages are dropped when the current transaction commits (at once
    outside one). A page rendered in between, from the data before the change, was stored under the dropped stamp."""
    if settings.PAGE_CACHE_SECONDS:
        ids = {pk for pk in user_ids if pk}
        forget_on_commit([STAMP_KEY.format(pk) for pk in ids], user_ids=ids)


def user_stamp(user_id: int) -> str:
    """The user's current stamp, made if they have none. Read before the page's data: a page rendered from data
    older than a change is stored under a stamp that change has already dropped, so it is never served."""
    key = STAMP_KEY.format(user_id)
    stamp = cache.get(key)
    if stamp is None:
        cache.add(key, secrets.token_hex(8), None)
        stamp = cache.get(key)
    return stamp


@lru_cache(maxsize=64)
def _template_digest(name: str) -> str:
    return hashlib.sha256(get_template(name).template.source.encode()).hexdigest()[:16]


CSRF_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*(")')
# The query parameters a cached page may have (its page of a list, the list's filter, or earlier messages). Any other
# query string is rendered, not cached: made-up parameters cannot fill the cache with copies of one page.
PAGE_PARAMETERS = {"page", "before", "status"}


def user_page(request, template: str, context: Callable[[], dict]) -> str:
    """`template` rendered with `context()` for the logged-in user, from the cache when nothing they see changed
    this minute. `context` is called only on a miss."""
    return user_page_keeping(request, template, context, keep=None)[0]


def user_page_keeping(request, template: str, context: Callable[[], dict], *, keep: str | None):
    """`user_page`, and the context's value named `keep`, stored with the rendering: what the page showed (the thread
    page marks the thread read up to the last message it shows, whether rendered now or a minute ago)."""
    seconds = settings.PAGE_CACHE_SECONDS
    if (
        not seconds
        or request.method != "GET"
        or not request.user.is_authenticated
        or not set(request.GET) <= PAGE_PARAMETERS
        or changed_uncommitted(request.user.pk)
    ):
        values = context()
        return render_to_string(template, values, request), values.get(keep)
    now = timezone.now()
    key = cache_key(
        "page",
        request.user.pk,
        user_stamp(request.user.pk),
        request.get_full_path(),
        translation.get_language(),
        timezone.get_current_timezone_name(),
        hashlib.sha256((request.META.get("CSRF_COOKIE") or "").encode()).hexdigest(),
        template,
        _template_digest(template),
        int(now.timestamp() // seconds),
    )
    pages = caches["pages"]
    cached = pages.get(key)
    if cached is None:
        values = context()
        html = render_to_string(template, values, request)
        pages.set(key, (html, now, values.get(keep)), seconds)
        return mark_safe(html), values.get(keep)  # noqa: S308 (rendered by the template engine, which escaped it)
    html, rendered_at, kept = cached
    if settings.PAGE_CACHE_VERIFY:
        _verify(request, template, context, html, rendered_at)
    return mark_safe(html), kept  # noqa: S308 (rendered by the template engine, which escaped it)


def _verify(request, template, context, html, rendered_at) -> None:
    """Tests: the page rendered again at the cached copy's moment must be the cached copy (CSRF masks aside)."""
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=rendered_at):
        fresh = render_to_string(template, context(), request)
    cached, fresh = (CSRF_VALUE.sub(r"\1\2", each) for each in (html, fresh))
    if cached != fresh:
        diff = "\n".join(difflib.unified_diff(cached.splitlines(), fresh.splitlines(), "cached", "fresh", lineterm=""))
        raise AssertionError(f"{template} was served from the cache but has changed since:\n{diff[:4000]}")
