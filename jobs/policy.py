"""The one answer to "may this actor do this to this job, proposal or invitation now?" for the jobs domain.

Every function returns a `contracts.policy.Verdict` (allowed, a stable code, a reason). Actions in
`jobs.services` enforce it; selectors use it to choose buttons and to hide what an actor may not see
(outsiders get a 404, never a hint); pages refuse a GET with it.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from contracts.policy import ALLOW, Verdict
from marketplace.i18n import in_sentence

from .models import Invitation, Job, Proposal


def _who(code: str, reason: str) -> Verdict:
    return Verdict(False, code, reason, "who")


def _when(code: str, reason: str) -> Verdict:
    return Verdict(False, code, reason, "when")


def _invalid(code: str, reason: str) -> Verdict:
    return Verdict(False, code, reason, "input")


NOT_YOURS = _who("not_yours", _("This is not your job."))


def is_client(actor, job: Job) -> bool:
    return actor.pk is not None and actor.pk == job.client_id


def is_staff(actor) -> bool:
    return bool(getattr(actor, "is_staff", False))


# --- jobs ---


def job_may_view(actor, job: Job, *, invited: bool = False, proposed: bool = False) -> Verdict:
    """The client and staff always; others an open or closed public job, or one they were invited to
    or proposed on. A draft is the client's alone."""
    if is_client(actor, job) or is_staff(actor):
        return ALLOW
    if job.status == Job.Status.DRAFT:
        return _who("not_found", _("No such job."))
    if job.visibility == Job.Visibility.PUBLIC or invited or proposed:
        return ALLOW
    return _who("not_found", _("No such job."))


def job_may_edit(actor, job: Job) -> Verdict:
    if not is_client(actor, job):
        return NOT_YOURS
    if job.status == Job.Status.CLOSED:
        return _when("closed", _("This job is closed; it can no longer change."))
    return ALLOW


def job_may_publish(actor, job: Job) -> Verdict:
    verdict = job_may_edit(actor, job)
    if verdict and job.status != Job.Status.DRAFT:
        return _when("not_draft", _("This job is already published."))
    return verdict


def job_may_cancel(actor, job: Job) -> Verdict:
    return job_may_edit(actor, job)


def job_may_post(actor) -> Verdict:
    if not actor.is_authenticated or not actor.wants_to_hire:
        return _who("not_client", _("To post jobs, choose “Hire freelancers” or “Both” in Account settings."))
    return ALLOW


# --- proposals ---


def proposal_may_create(actor, job: Job, *, already_proposed: bool, sent_today: int, invited: bool = False) -> Verdict:
    """An open job the actor may see, not their own, once per job, at most PROPOSALS_PER_DAY a day."""
    if not job_may_view(actor, job, invited=invited):
        return _who("not_found", _("No such job."))
    if is_client(actor, job):
        return _who("own_job", _("You cannot propose on your own job."))
    if not actor.wants_to_work:
        return _who(
            "not_freelancer", _("To send proposals, choose “Work as a freelancer” or “Both” in Account settings.")
        )
    if not job.is_open:
        return _when(
            "closed",
            _("This job is %(status)s: it no longer takes proposals.") % {"status": in_sentence(job.status_label)},
        )
    if already_proposed:
        return _invalid("already_proposed", _("You already sent a proposal for this job; edit it instead."))
    if sent_today >= settings.JOBS_PROPOSALS_PER_DAY:
        return _invalid(
            "daily_limit",
            _("You can send at most %(count)d proposals a day. Try again tomorrow.")
            % {"count": settings.JOBS_PROPOSALS_PER_DAY},
        )
    return ALLOW


def proposal_may_view(actor, proposal: Proposal) -> Verdict:
    """Its freelancer, the job's client and staff; nobody else learns that it exists."""
    if actor.pk is not None and actor.pk in (proposal.freelancer_id, proposal.job.client_id) or is_staff(actor):
        return ALLOW
    return _who("not_found", _("No such proposal."))


def _freelancer_open(actor, proposal: Proposal, not_yours: str) -> Verdict:
    if actor.pk != proposal.freelancer_id:
        return _who("not_yours", not_yours)
    if not proposal.is_active:
        return _when(
            "closed", _("This proposal is %(status)s.") % {"status": in_sentence(proposal.get_status_display())}
        )
    if not proposal.job.is_open:
        return _when("job_closed", _("This job is %(status)s.") % {"status": in_sentence(proposal.job.status_label)})
    return ALLOW


def proposal_may_edit(actor, proposal: Proposal) -> Verdict:
    verdict = _freelancer_open(actor, proposal, _("Only the freelancer who sent this proposal can edit it."))
    if verdict and proposal.client_acted_at is not None:
        return _when("client_acted", _("The client has already acted on your proposal; message them instead."))
    return verdict


def proposal_may_withdraw(actor, proposal: Proposal) -> Verdict:
    verdict = _freelancer_open(actor, proposal, _("Only the freelancer who sent this proposal can withdraw it."))
    if verdict and proposal.offer_id is not None and proposal.offer.is_pending:
        return _when("offered", _("The client sent you an offer for this proposal: answer the offer instead."))
    return verdict


def proposal_may_manage(actor, proposal: Proposal) -> Verdict:
    """Shortlist, archive, restore or message: the job's client, while the proposal is active."""
    if not is_client(actor, proposal.job):
        return _who("not_client", _("Only the job's client can do this."))
    if not proposal.is_active:
        return _when(
            "closed", _("This proposal is %(status)s.") % {"status": in_sentence(proposal.get_status_display())}
        )
    return ALLOW


def proposal_may_hire(actor, proposal: Proposal) -> Verdict:
    verdict = proposal_may_manage(actor, proposal)
    if not verdict:
        return verdict
    if not proposal.job.is_open:
        return _when("job_closed", _("This job is %(status)s.") % {"status": in_sentence(proposal.job.status_label)})
    if proposal.offer_id is not None and proposal.offer.is_pending:
        return _when("offer_pending", _("You already sent this freelancer an offer; it is waiting for their answer."))
    return ALLOW


# --- invitations ---


def invitation_may_create(actor, job: Job, freelancer, *, already: bool) -> Verdict:
    if not is_client(actor, job):
        return NOT_YOURS
    if not job.is_open:
        return _when("closed", _("Only open jobs take invitations. Publish the job first."))
    if freelancer.pk == actor.pk or not (freelancer.is_active and freelancer.wants_to_work):
        return _invalid("not_freelancer", _("This person is not available for freelance work."))
    if already:
        return _invalid(
            "already", _("%(name)s was already invited to, or proposed on, this job.") % {"name": freelancer.name}
        )
    return ALLOW


def invitation_may_answer(actor, invitation: Invitation) -> Verdict:
    if actor.pk != invitation.freelancer_id:
        return _who("not_found", _("No such invitation."))
    if invitation.status != Invitation.Status.PENDING:
        return _when("answered", _("This invitation has already been answered."))
    if not invitation.job.is_open:
        return _when("closed", _("This job is %(status)s.") % {"status": in_sentence(invitation.job.status_label)})
    return ALLOW
