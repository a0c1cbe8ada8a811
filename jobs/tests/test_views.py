"""Pages: what each person may see (outsiders get 404), search and filters, query counts constant in data size."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contracts.tests.factories import make_contract
from jobs import services
from jobs.models import Job, Proposal
from jobs.tests.factories import job_terms, make_job, make_proposal, plan
from marketplace.tests.factories import FreelancerFactory, UserFactory

pytestmark = pytest.mark.django_db


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


# --- who sees what ---


def test_outsiders_get_404_on_private_jobs_other_freelancers_proposals_and_their_threads(
    client, client_user, freelancer
):
    private = make_job(client=client_user, visibility=Job.Visibility.INVITE_ONLY)
    draft = make_job(client=client_user, publish=False)
    services.invitation_create(actor=client_user, job_id=private.pk, freelancer=freelancer)
    proposal = services.proposal_create(
        actor=freelancer,
        job_id=private.pk,
        cover_letter="Mine",
        milestones=plan(),
        files=[SimpleUploadedFile("cv.txt", b"my cv", content_type="text/plain")],
    )
    thread = services.proposal_message(actor=client_user, proposal_id=proposal.pk)
    attachment = proposal.attachments.get()
    rival = FreelancerFactory()

    client.force_login(rival)
    for url in (
        private.get_absolute_url(),
        draft.get_absolute_url(),
        f"/jobs/{private.pk}/propose/",
        proposal.get_absolute_url(),
        f"/jobs/proposals/{proposal.pk}/edit/",
        attachment.get_absolute_url(),
        thread.get_absolute_url(),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/jobs/proposals/{proposal.pk}/withdraw/").status_code == 404
    assert client.post(f"/jobs/proposals/{proposal.pk}/shortlist/").status_code == 404
    assert client.get("/jobs/").content.count(b"Online shop") == 0  # not listed either

    for user in (client_user, freelancer):  # the two parties see it all
        client.force_login(user)
        for url in (private.get_absolute_url(), proposal.get_absolute_url(), attachment.get_absolute_url()):
            assert client.get(url).status_code == 200, url
        assert client.get(thread.get_absolute_url()).status_code == 200
    client.force_login(freelancer)
    assert client.get(draft.get_absolute_url()).status_code == 404
    assert client.post(f"/jobs/proposals/{proposal.pk}/shortlist/").status_code == 403  # not the client


def test_anonymous_visitors_see_public_jobs_but_not_proposals(client):
    proposal = make_proposal()
    assert client.get(proposal.job.get_absolute_url()).status_code == 200
    assert client.get("/jobs/").status_code == 200
    assert client.get(proposal.get_absolute_url()).status_code == 302  # to the login page


def test_every_page_answers_for_its_people(client, client_user, freelancer):
    job = make_job(client=client_user)
    proposal = make_proposal(job=job, freelancer=freelancer)
    client.force_login(client_user)
    for url in (
        "/jobs/new/",
        f"/jobs/{job.pk}/edit/",
        f"/jobs/{job.pk}/?tab=shortlisted",
        f"/jobs/{job.pk}/cancel/",
        f"/jobs/proposals/{proposal.pk}/hire/",
        f"/jobs/invite/?freelancer={freelancer.pk}",
        "/dashboard/",
        f"/freelancers/{freelancer.pk}/",
    ):
        assert client.get(url).status_code == 200, url
    client.force_login(freelancer)
    for url in ("/jobs/saved/", f"/jobs/proposals/{proposal.pk}/edit/", "/dashboard/", "/jobs/?q=shop"):
        assert client.get(url).status_code == 200, url


def test_the_client_posts_a_job_through_the_form(client, client_user):
    client.force_login(client_user)
    due = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = client.post(
        "/jobs/new/",
        {
            "title": "Landing page",
            "description": "One page.",
            "skills": "HTML, css",
            "budget_min": "200",
            "budget_max": "",
            "visibility": "public",
            "milestones-TOTAL_FORMS": "1",
            "milestones-INITIAL_FORMS": "0",
            "milestones-0-title": "Page",
            "milestones-0-deliverable": "The page",
            "milestones-0-due_date": due,
            "milestones-0-amount": "200.00",
            "publish": "1",
            "files": [SimpleUploadedFile("brief.txt", b"The brief", content_type="text/plain")],
        },
    )
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.status == Job.Status.OPEN and job.budget_max == Decimal("200.00") and job.is_fixed_budget
    assert set(job.skills.names()) == {"html", "css"}
    assert [m.amount for m in job.plan] == [Decimal("200.00")]
    brief = job.attachments.get()
    assert brief.original_name == "brief.txt"
    assert b"".join(client.get(brief.get_absolute_url()).streaming_content) == b"The brief"
    rejected = client.post(
        f"/jobs/{job.pk}/edit/",
        {**{k: v for k, v in response.wsgi_request.POST.items()}, "files": [SimpleUploadedFile("x.html", b"<script>")]},
    )
    assert "this file type is not allowed" in rejected.content.decode()


def test_the_proposal_form_refuses_a_milestone_under_the_minimum(client, freelancer):
    job = make_job()
    client.force_login(freelancer)
    due = (timezone.localdate() + timedelta(days=10)).isoformat()
    data = {
        "cover_letter": "Hello",
        "milestones-TOTAL_FORMS": "1",
        "milestones-INITIAL_FORMS": "0",
        "milestones-0-title": "All",
        "milestones-0-deliverable": "Everything",
        "milestones-0-due_date": due,
        "milestones-0-amount": "4.00",
    }
    response = client.post(f"/jobs/{job.pk}/propose/", data)
    assert response.status_code == 200 and b"The minimum amount for a milestone is 5.00" in response.content
    data["milestones-0-amount"] = "450.00"
    response = client.post(f"/jobs/{job.pk}/propose/", data)
    proposal = Proposal.objects.get()
    assert response["Location"] == proposal.get_absolute_url()
    page = client.get(proposal.get_absolute_url()).content.decode()
    assert "$450.00" in page and "$45.00" in page and "$405.00" in page  # total, fee, what they receive


# --- search and filters ---


def test_search_filters_and_sorting(client):
    owner = UserFactory()
    shop = make_job(
        client=owner, title="Django shop", skills=["django"], budget_min=Decimal("800"), budget_max=Decimal("800")
    )
    logo = make_job(
        client=owner,
        title="Logo design",
        description="A bold logo",
        skills=["figma"],
        budget_min=Decimal("100"),
        budget_max=Decimal("300"),
    )
    old = make_job(client=owner, title="Old data job", description="pandas", skills=["python"])
    Job.objects.filter(pk=old.pk).update(published_at=timezone.now() - timedelta(days=10))
    make_proposal(job=logo)

    def titles(query):
        return [j.title for j in client.get(f"/jobs/?{query}").context["jobs"]]

    assert titles("q=shop") == ["Django shop"]
    assert titles("q=logos") == ["Logo design"]  # stemmed: full-text, not a substring
    assert titles("skills=Figma, python") == ["Logo design", "Old data job"]
    assert titles("budget_min=500") == ["Django shop", "Old data job"]
    assert titles("budget_max=200") == ["Logo design"]
    assert titles("posted_within=7") == ["Logo design", "Django shop"]
    assert titles("proposals=lt5&sort=budget_high") == ["Old data job", "Django shop", "Logo design"]
    assert titles("sort=fewest_proposals")[-1] == "Logo design"
    assert shop.pk


def test_the_jobs_list_runs_a_constant_number_of_queries(client, freelancer):
    client.force_login(freelancer)
    owner = UserFactory()
    make_job(client=owner)
    url = "/jobs/?q=shop&skills=django,python&budget_min=100&posted_within=7&proposals=lt5&sort=newest"
    few = queries(client, url)
    for i in range(25):
        make_job(client=UserFactory(), skills=["django", f"skill{i}"])
    assert queries(client, url) == few


def test_the_job_page_with_50_proposals_runs_a_constant_number_of_queries(client, client_user):
    job = make_job(client=client_user)
    make_contract(freelancer=make_proposal(job=job).freelancer)
    client.force_login(client_user)
    few = queries(client, job.get_absolute_url())
    for _ in range(49):
        proposal = make_proposal(job=job)
        services.proposal_shortlist(actor=client_user, proposal_id=proposal.pk)
    page = client.get(job.get_absolute_url())
    assert len(page.context["proposals"]) == 50
    assert queries(client, job.get_absolute_url()) == few


def test_the_proposal_page_runs_a_constant_number_of_queries(client, client_user, freelancer):
    small = make_proposal(job=make_job(client=client_user), freelancer=freelancer, amounts=("100.00",))
    client.force_login(client_user)
    few = queries(client, small.get_absolute_url())
    big = make_proposal(job=make_job(client=client_user), freelancer=FreelancerFactory(), amounts=["10.00"] * 40)
    for _ in range(3):
        make_contract(freelancer=big.freelancer)
    assert queries(client, big.get_absolute_url()) == few
    assert job_terms().title  # the factories' defaults are what the search tests rely on


def test_a_freelancer_saves_a_search_from_the_list_and_deletes_it(client, freelancer):
    client.force_login(freelancer)
    page = client.get("/jobs/?q=shop&skills=django&page=2").content.decode()
    assert "Save this search" in page
    response = client.post("/jobs/saved/", {"name": "Django shops", "q": "shop", "skills": "django", "page": "2"})
    assert response.status_code == 302
    search = freelancer.saved_searches.get()
    assert search.query == "q=shop&skills=django"  # no page number
    assert search.get_absolute_url().replace("&", "&amp;") in client.get("/jobs/saved/").content.decode()
    other = FreelancerFactory()
    client.force_login(other)
    client.post(f"/jobs/saved/{search.pk}/delete/")
    assert freelancer.saved_searches.exists()  # not theirs: nothing deleted
    client.force_login(freelancer)
    client.post(f"/jobs/saved/{search.pk}/delete/")
    assert not freelancer.saved_searches.exists()


def test_an_invited_freelancer_sees_the_private_job_and_declines_through_the_pages(client, client_user, freelancer):
    job = make_job(client=client_user, visibility=Job.Visibility.INVITE_ONLY)
    client.force_login(client_user)
    response = client.post("/jobs/invite/", {"freelancer": freelancer.pk, "job": job.pk, "message": "Interested?"})
    assert response["Location"] == job.get_absolute_url()
    invitation = job.invitations.get()

    client.force_login(freelancer)
    page = client.get(job.get_absolute_url()).content.decode()
    assert "Clara Client invited you" in page and "Send a proposal" in page and "Interested?" in page
    assert "Quarterly" not in client.get("/dashboard/").content.decode()
    assert job.title in client.get("/dashboard/").content.decode()
    assert client.get(f"/jobs/invitations/{invitation.pk}/decline/").status_code == 200
    client.post(f"/jobs/invitations/{invitation.pk}/decline/", {"reason": "Booked up"})
    invitation.refresh_from_db()
    assert invitation.status == "declined" and invitation.decline_reason == "Booked up"
    assert client.get(f"/jobs/invitations/{invitation.pk}/decline/").status_code == 409  # answered


def test_a_closed_job_page_says_why_it_takes_no_proposals(client, client_user, freelancer):
    job = make_job(client=client_user)
    services.job_cancel(actor=client_user, job_id=job.pk)
    client.force_login(freelancer)
    page = client.get(job.get_absolute_url()).content.decode()
    assert "This job is cancelled: it no longer takes proposals." in page
    assert client.get(f"/jobs/{job.pk}/propose/").status_code == 409  # the page refuses as the action does
    response = client.post(
        f"/jobs/{job.pk}/propose/",
        {
            "cover_letter": "Hi",
            "milestones-TOTAL_FORMS": "1",
            "milestones-INITIAL_FORMS": "0",
            "milestones-0-title": "All",
            "milestones-0-deliverable": "All",
            "milestones-0-due_date": (timezone.localdate() + timedelta(days=3)).isoformat(),
            "milestones-0-amount": "50.00",
        },
    )
    assert response.status_code == 409 and not Proposal.objects.exists()
