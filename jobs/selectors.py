"""Reads of the jobs domain. Views call these; outsiders get Http404 (never a hint that something exists)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, QueryDict
from django.utils import timezone

from contracts.models import Contract
from contracts.rules import fee_breakdown
from marketplace.models import User

from . import policy
from .filters import JobFilter
from .models import Invitation, Job, JobAttachment, Proposal, ProposalAttachment, SavedSearch

PAGE_SIZE = 20
DASHBOARD_LIMIT = 10


def public_jobs() -> QuerySet[Job]:
    """Open jobs anyone can find, with what a list row shows (client, skills) loaded in fixed queries."""
    return (
        Job.objects.filter(status=Job.Status.OPEN, visibility=Job.Visibility.PUBLIC)
        .select_related("client")
        .prefetch_related("skills")
    )


def job_search(*, params: QueryDict) -> JobFilter:
    """The jobs list: `.qs` is the filtered, sorted queryset; `.form` the filters with their errors."""
    params = params.copy()
    params.setdefault("sort", "newest")
    return JobFilter(params, queryset=public_jobs())


def saved_search_matches(*, search: SavedSearch, since, until) -> int:
    """How many public open jobs published in (since, until] match a saved search."""
    found = JobFilter(
        QueryDict(search.query),
        queryset=Job.objects.filter(
            status=Job.Status.OPEN, visibility=Job.Visibility.PUBLIC, published_at__gt=since, published_at__lte=until
        ),
    )
    return found.qs.count() if found.is_valid() else 0


def _fetch_job(job_id: int) -> Job:
    job = Job.objects.select_related("client").prefetch_related("skills", "attachments").filter(pk=job_id).first()
    if job is None:
        raise Http404("No such job.")
    return job


def job_for_viewer(*, user: User, job_id: int) -> Job:
    """The job, if `user` may see it (policy.job_may_view); 404 otherwise."""
    job = _fetch_job(job_id)
    invited = proposed = False
    if user.is_authenticated and job.visibility == Job.Visibility.INVITE_ONLY and not policy.is_client(user, job):
        invited = Invitation.objects.filter(job=job, freelancer=user).exists()
        proposed = Proposal.objects.filter(job=job, freelancer=user).exists()
    if not policy.job_may_view(user, job, invited=invited, proposed=proposed):
        raise Http404("No such job.")
    return job


def job_for_client(*, user: User, job_id: int) -> Job:
    job = _fetch_job(job_id)
    if not policy.is_client(user, job):
        raise Http404("No such job.")
    return job


def _contracts_of(status=None):
    contracts = Contract.objects.filter(freelancer=OuterRef("freelancer_id"))
    if status:
        contracts = contracts.filter(status=status)
    counted = contracts.order_by().values("freelancer").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


PROPOSAL_TABS = {
    "all": Q(status=Proposal.Status.ACTIVE, archived=False),
    "shortlisted": Q(status=Proposal.Status.ACTIVE, shortlisted=True),
    "archived": Q(status=Proposal.Status.ACTIVE, archived=True),
    "closed": ~Q(status=Proposal.Status.ACTIVE),
}


def job_proposals(*, job: Job, user: User, tab: str = "all") -> list[Proposal]:
    """The client's view of a job's proposals: each with the freelancer's profile and history (contracts,
    of which ended), in a constant number of queries."""
    proposals = (
        Proposal.objects.filter(job=job)
        .filter(PROPOSAL_TABS.get(tab, PROPOSAL_TABS["all"]))
        .select_related("freelancer", "freelancer__profile", "offer", "thread")
        .annotate(
            freelancer_contracts=_contracts_of(),
            freelancer_completed=_contracts_of(Contract.Status.ENDED),
            # Published double-blind feedback (feedback app), joined: no query per proposal.
            freelancer_rating=F("freelancer__freelancer_rating__average"),
            freelancer_rating_count=F("freelancer__freelancer_rating__count"),
        )
        .order_by("-shortlisted", "total", "pk")
    )
    proposals = list(proposals)
    for proposal in proposals:
        proposal.job = job
        proposal.fees = fee_breakdown(proposal.plan, settings.PLATFORM_FEE_PERCENT)
        proposal.can_manage = policy.proposal_may_manage(user, proposal)
        proposal.can_hire = policy.proposal_may_hire(user, proposal)
    return proposals


def proposal_tab_counts(*, job: Job) -> dict[str, int]:
    return Proposal.objects.filter(job=job).aggregate(
        **{tab: Count("pk", filter=q) for tab, q in PROPOSAL_TABS.items()}
    )


def job_page(*, job: Job, user: User, tab: str = "all") -> dict:
    context = {"job": job, "plan": job.plan, "is_client": policy.is_client(user, job), "tab": tab}
    if context["is_client"]:
        context.update(
            proposals=job_proposals(job=job, user=user, tab=tab),
            tab_counts=proposal_tab_counts(job=job),
            invitations=list(job.invitations.select_related("freelancer").order_by("-created_at")[:50]),
            can_edit=policy.job_may_edit(user, job),
            can_publish=policy.job_may_publish(user, job),
        )
        return context
    mine = invitation = None
    if user.is_authenticated:
        mine = Proposal.objects.filter(job=job, freelancer=user).first()
        invitation = Invitation.objects.filter(job=job, freelancer=user).first()
    context.update(my_proposal=mine, invitation=invitation)
    if user.is_authenticated and mine is None:
        context["can_propose"] = proposal_create_verdict(user=user, job=job)
    return context


def proposal_create_verdict(*, user: User, job: Job):
    """May `user` propose on `job` now? (The action asks again under the job's lock.)"""
    since = timezone.now() - timedelta(days=1)
    return policy.proposal_may_create(
        user,
        job,
        already_proposed=Proposal.objects.filter(job=job, freelancer=user).exists(),
        sent_today=Proposal.objects.filter(freelancer=user, created_at__gte=since).count(),
        invited=Invitation.objects.filter(job=job, freelancer=user).exists(),
    )


def proposal_for_viewer(*, user: User, proposal_id: int) -> Proposal:
    proposal = (
        Proposal.objects.select_related("job", "job__client", "freelancer", "freelancer__profile", "offer", "thread")
        .prefetch_related("attachments")
        .filter(pk=proposal_id)
        .first()
    )
    if proposal is None or not policy.proposal_may_view(user, proposal):
        raise Http404("No such proposal.")
    return proposal


def proposal_page(*, proposal: Proposal, user: User) -> dict:
    plan = proposal.plan
    history = Contract.objects.filter(freelancer=proposal.freelancer_id).aggregate(
        total=Count("pk"), completed=Count("pk", filter=Q(status=Contract.Status.ENDED))
    )
    return {
        "proposal": proposal,
        "job": proposal.job,
        "plan": plan,
        "fees": fee_breakdown(plan, settings.PLATFORM_FEE_PERCENT),
        "history": history,
        "is_client": policy.is_client(user, proposal.job),
        "can_edit": policy.proposal_may_edit(user, proposal),
        "can_withdraw": policy.proposal_may_withdraw(user, proposal),
        "can_manage": policy.proposal_may_manage(user, proposal),
        "can_hire": policy.proposal_may_hire(user, proposal),
    }


def job_file(*, user: User, job_id: int, file_id: int) -> JobAttachment:
    job = job_for_viewer(user=user, job_id=job_id)
    attachment = JobAttachment.objects.filter(job=job, pk=file_id).first()
    if attachment is None:
        raise Http404("No such file.")
    return attachment


def proposal_file(*, user: User, proposal_id: int, file_id: int) -> ProposalAttachment:
    proposal = proposal_for_viewer(user=user, proposal_id=proposal_id)
    attachment = ProposalAttachment.objects.filter(proposal=proposal, pk=file_id).first()
    if attachment is None:
        raise Http404("No such file.")
    return attachment


def client_open_jobs(*, user: User) -> QuerySet[Job]:
    return Job.objects.filter(client=user, status=Job.Status.OPEN).order_by("-published_at")


def invitation_for_freelancer(*, user: User, invitation_id: int) -> Invitation:
    invitation = (
        Invitation.objects.select_related("job", "job__client").filter(pk=invitation_id, freelancer=user).first()
    )
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def saved_searches(*, user: User) -> list[SavedSearch]:
    return list(SavedSearch.objects.filter(user=user))


def dashboard(*, user: User) -> dict:
    """Clients: their open and draft jobs with new-proposal counts. Freelancers: invitations waiting for an
    answer and their active proposals."""
    newer = (
        Proposal.objects.filter(job=OuterRef("pk"), status=Proposal.Status.ACTIVE)
        .filter(Q(created_at__gt=OuterRef("proposals_seen_at")) | Q(job__proposals_seen_at__isnull=True))
        .order_by()
        .values("job")
        .annotate(n=Count("pk"))
        .values("n")
    )
    jobs = list(
        Job.objects.filter(client=user, status__in=[Job.Status.DRAFT, Job.Status.OPEN])
        .annotate(new_proposals=Coalesce(Subquery(newer, output_field=IntegerField()), Value(0)))
        .order_by("status", "-published_at", "-created_at")[:DASHBOARD_LIMIT]
    )
    invitations = list(
        Invitation.objects.filter(freelancer=user, status=Invitation.Status.PENDING, job__status=Job.Status.OPEN)
        .select_related("job", "job__client")
        .order_by("-created_at")[:DASHBOARD_LIMIT]
    )
    proposals = list(
        Proposal.objects.filter(freelancer=user, status=Proposal.Status.ACTIVE)
        .select_related("job", "offer")
        .order_by("-created_at")[:DASHBOARD_LIMIT]
    )
    return {"client_jobs": jobs, "job_invitations": invitations, "active_proposals": proposals}
