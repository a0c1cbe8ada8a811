"""Caching that is correct by construction: only what is the same for everyone who gets it.

The cache is Django's cache framework (CACHE_URL: Redis in production, so every web process shares
it; per-process memory by default). Nothing here is needed for correctness: a miss recomputes.
"""

import hashlib

from django.core.cache import cache
from django.core.paginator import Paginator
from django.utils.functional import cached_property

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
