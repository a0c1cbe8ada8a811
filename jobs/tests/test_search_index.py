"""The jobs search on 50,000 jobs uses its full-text GIN index (PostgreSQL)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.http import QueryDict
from django.utils import timezone

from jobs.models import Job
from jobs.selectors import job_search
from marketplace.tests.factories import UserFactory

WORDS = [f"topic{n}" for n in range(1000)]


@pytest.mark.django_db
def test_the_search_on_50000_jobs_uses_the_gin_index():
    assert connection.vendor == "postgresql"
    client = UserFactory()
    now = timezone.now()
    Job.objects.bulk_create(
        (
            Job(
                client=client,
                title=f"Project {WORDS[i % 1000]} number {i}",
                description=f"Work on {WORDS[(i * 7) % 1000]} and {WORDS[(i * 13) % 1000]} for a small company.",
                budget_min=Decimal("100.00"),
                budget_max=Decimal("500.00"),
                status=Job.Status.OPEN,
                published_at=now,
            )
            for i in range(50_000)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE jobs_job")

    search = job_search(params=QueryDict("q=topic42"))
    page = search.qs[:20]
    plan = page.explain()

    assert "jobs_job_search" in plan, plan
    assert 0 < len(list(page)) <= 20
    assert all("topic42" in f"{job.title} {job.description}" for job in page)
