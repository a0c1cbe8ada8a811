"""Job, proposal and invitation pages. Thin: parse a form, call one action, flash, redirect."""

from contextlib import suppress

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from contracts.forms import MilestoneFormSet, OfferTermsForm
from contracts.views.common import posted_int, refusals_as_pages
from marketplace.accounts import verified_email_required
from marketplace.selectors import freelancer_get
from marketplace.uploads import serve_upload

from . import policy, selectors, services
from .forms import DeclineForm, InviteForm, JobForm, JobPlanFormSet, ProposalForm, SavedSearchForm
from .models import SavedSearch

PLAN_PREFIX = "milestones"


def _with_rows(request, form_class, formset_class, *, initial=None, rows=None, **form_kwargs):
    """A form and a milestone formset. Without JavaScript, "Add another milestone" posts the form with
    `add_row`: it comes back with everything typed and one more row."""
    data = files = None
    if request.method == "POST":
        data, files = request.POST, request.FILES
        if "add_row" in data:
            data = data.copy()
            data[f"{PLAN_PREFIX}-TOTAL_FORMS"] = str(int(data.get(f"{PLAN_PREFIX}-TOTAL_FORMS") or 0) + 1)
    form = form_class(data, files, initial=initial, **form_kwargs)
    formset = formset_class(data, initial=rows, prefix=PLAN_PREFIX)
    return form, formset


def _submitted(request, form, formset) -> bool:
    return request.method == "POST" and "add_row" not in request.POST and form.is_valid() and formset.is_valid()


def _plan_initial(plan) -> list[dict]:
    return [{"title": m.title, "deliverable": m.deliverable, "due_date": m.due_date, "amount": m.amount} for m in plan]


def _form_context(**extra) -> dict:
    return {"fee_percent": settings.PLATFORM_FEE_PERCENT, "min_amount": settings.MILESTONE_MIN_AMOUNT, **extra}


# --- finding work ---


def job_list(request):
    search = selectors.job_search(params=request.GET)
    page = Paginator(search.qs, selectors.PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "filter": search,
        "page": page,
        "jobs": page.object_list,
        "saved_form": SavedSearchForm(),
        "has_query": bool(services.clean_query(request.GET).replace("sort=newest", "")),
        "more_filters": any(
            request.GET.get(name) for name in ("budget_min", "budget_max", "posted_within", "proposals")
        )
        or request.GET.get("sort", "newest") != "newest",
    }
    return render(request, "jobs/job_list.html", context)


@login_required
def saved_searches(request):
    if request.method == "POST":
        form = SavedSearchForm(request.POST)
        if form.is_valid():
            try:
                services.saved_search_create(actor=request.user, name=form.cleaned_data["name"], params=request.POST)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, _("Search saved. We email you once a day when new jobs match it."))
        return redirect("jobs:saved_searches")
    return render(request, "jobs/saved_searches.html", {"searches": selectors.saved_searches(user=request.user)})


@login_required
@require_POST
def saved_search_delete(request, search_id):
    with suppress(SavedSearch.DoesNotExist):  # already gone, or not theirs: nothing to say
        services.saved_search_delete(actor=request.user, saved_search_id=search_id)
    messages.info(request, _("Saved search deleted."))
    return redirect("jobs:saved_searches")


# --- jobs ---


@login_required
@refusals_as_pages
def job_create(request):
    policy.job_may_post(request.user).enforce()
    form, formset = _with_rows(request, JobForm, JobPlanFormSet)
    if _submitted(request, form, formset):
        publish = "save_draft" not in request.POST
        try:
            job = services.job_create(
                actor=request.user,
                terms=form.terms(),
                plan=formset.terms(),
                files=form.cleaned_data["files"],
                publish=publish,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, _("Your job is live.") if publish else _("Saved as a draft: publish it when ready.")
            )
            return redirect(job)
    return render(request, "jobs/job_form.html", _form_context(form=form, formset=formset, heading=_("Post a job")))


@login_required
@refusals_as_pages
def job_edit(request, job_id):
    job = selectors.job_for_client(user=request.user, job_id=job_id)
    policy.job_may_edit(request.user, job).enforce()
    initial = {
        "title": job.title,
        "description": job.description,
        "skills": ", ".join(tag.name for tag in job.skills.all()),
        "budget_min": job.budget_min,
        "budget_max": None if job.is_fixed_budget else job.budget_max,
        "deadline": job.deadline,
        "visibility": job.visibility,
    }
    form, formset = _with_rows(request, JobForm, JobPlanFormSet, initial=initial, rows=_plan_initial(job.plan))
    if _submitted(request, form, formset):
        try:
            services.job_update(
                actor=request.user,
                job_id=job.pk,
                terms=form.terms(),
                plan=formset.terms(),
                files=form.cleaned_data["files"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Your job was updated."))
            return redirect(job)
    context = _form_context(form=form, formset=formset, job=job, heading=_("Edit: %(title)s") % {"title": job.title})
    return render(request, "jobs/job_form.html", context)


def job_detail(request, job_id):
    job = selectors.job_for_viewer(user=request.user, job_id=job_id)
    tab = request.GET.get("tab", "all")
    context = selectors.job_page(job=job, user=request.user, tab=tab)
    if context["is_client"]:
        services.job_mark_proposals_seen(actor=request.user, job=job)
    return render(request, "jobs/job_detail.html", context)


@login_required
@require_POST
@refusals_as_pages
def job_publish(request, job_id):
    job = selectors.job_for_client(user=request.user, job_id=job_id)
    services.job_publish(actor=request.user, job_id=job.pk)
    messages.success(request, _("Your job is live: freelancers can find it and propose."))
    return redirect(job)


@login_required
@refusals_as_pages
def job_cancel(request, job_id):
    job = selectors.job_for_client(user=request.user, job_id=job_id)
    policy.job_may_cancel(request.user, job).enforce()
    if request.method == "POST":
        services.job_cancel(actor=request.user, job_id=job.pk)
        messages.info(request, _("The job was cancelled. Everyone who proposed has been told."))
        return redirect(job)
    return render(request, "jobs/job_cancel.html", {"job": job})


def job_file(request, job_id, file_id):
    attachment = selectors.job_file(user=request.user, job_id=job_id, file_id=file_id)
    return serve_upload(attachment.file, attachment.original_name)


# --- proposals ---


@login_required
@refusals_as_pages
def proposal_create(request, job_id):
    job = selectors.job_for_viewer(user=request.user, job_id=job_id)
    selectors.proposal_create_verdict(user=request.user, job=job).enforce()
    form, formset = _with_rows(request, ProposalForm, MilestoneFormSet, rows=_plan_initial(job.plan) or [{}])
    if _submitted(request, form, formset):
        try:
            proposal = services.proposal_create(
                actor=request.user,
                job_id=job.pk,
                cover_letter=form.cleaned_data["cover_letter"],
                milestones=formset.terms(),
                files=form.cleaned_data["files"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Your proposal was sent to %(name)s.") % {"name": job.client.name})
            return redirect(proposal)
    context = _form_context(form=form, formset=formset, job=job, heading=_("Propose: %(title)s") % {"title": job.title})
    return render(request, "jobs/proposal_form.html", context)


@login_required
def proposal_detail(request, proposal_id):
    proposal = selectors.proposal_for_viewer(user=request.user, proposal_id=proposal_id)
    return render(request, "jobs/proposal_detail.html", selectors.proposal_page(proposal=proposal, user=request.user))


@login_required
@refusals_as_pages
def proposal_edit(request, proposal_id):
    proposal = selectors.proposal_for_viewer(user=request.user, proposal_id=proposal_id)
    policy.proposal_may_edit(request.user, proposal).enforce()
    initial = {"cover_letter": proposal.cover_letter}
    rows = _plan_initial(proposal.plan)
    form, formset = _with_rows(request, ProposalForm, MilestoneFormSet, initial=initial, rows=rows)
    if _submitted(request, form, formset):
        try:
            services.proposal_update(
                actor=request.user,
                proposal_id=proposal.pk,
                cover_letter=form.cleaned_data["cover_letter"],
                milestones=formset.terms(),
                files=form.cleaned_data["files"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Your proposal was updated."))
            return redirect(proposal)
    context = _form_context(
        form=form,
        formset=formset,
        job=proposal.job,
        proposal=proposal,
        heading=_("Edit your proposal: %(title)s") % {"title": proposal.job},
    )
    return render(request, "jobs/proposal_form.html", context)


def _client_action(action, done: str):
    @login_required
    @require_POST
    @refusals_as_pages
    def view(request, proposal_id):
        proposal = selectors.proposal_for_viewer(user=request.user, proposal_id=proposal_id)
        action(actor=request.user, proposal_id=proposal.pk)
        messages.success(request, done.format(name=proposal.freelancer.name))
        return redirect(request.POST.get("next") or proposal.get_absolute_url())

    return view


proposal_shortlist = _client_action(services.proposal_shortlist, _("{name}’s proposal is on your shortlist."))
proposal_archive = _client_action(services.proposal_archive, _("{name}’s proposal was archived."))
proposal_restore = _client_action(services.proposal_restore, _("{name}’s proposal is back in the main list."))


@login_required
@require_POST
@refusals_as_pages
def proposal_withdraw(request, proposal_id):
    proposal = selectors.proposal_for_viewer(user=request.user, proposal_id=proposal_id)
    services.proposal_withdraw(actor=request.user, proposal_id=proposal.pk)
    messages.info(request, _("You withdrew your proposal."))
    return redirect(proposal)


@login_required
@require_POST
@refusals_as_pages
def proposal_message(request, proposal_id):
    proposal = selectors.proposal_for_viewer(user=request.user, proposal_id=proposal_id)
    thread = services.proposal_message(actor=request.user, proposal_id=proposal.pk)
    return redirect(thread)


@verified_email_required  # hiring sends an offer: a confirmed email address, as for any offer
@refusals_as_pages
def proposal_hire(request, proposal_id):
    """The offer form, filled in with the proposal's plan: send it as is, or change it first."""
    proposal = selectors.proposal_for_viewer(user=request.user, proposal_id=proposal_id)
    policy.proposal_may_hire(request.user, proposal).enforce()
    job = proposal.job
    initial = {
        "title": job.title,
        "scope": job.description,
        "acceptance_criteria": _("The deliverables of each milestone, as described in the job post and the proposal."),
    }
    form, formset = _with_rows(
        request, OfferTermsForm, MilestoneFormSet, initial=initial, rows=_plan_initial(proposal.plan)
    )
    if _submitted(request, form, formset):
        try:
            offer = services.proposal_hire(
                actor=request.user, proposal_id=proposal.pk, terms=form.terms(), milestones=formset.terms()
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Your offer was sent to %(name)s.") % {"name": proposal.freelancer.name})
            return redirect(offer)
    context = _form_context(
        form=form,
        formset=formset,
        freelancer=proposal.freelancer,
        heading=_("Hire %(name)s") % {"name": proposal.freelancer.name},
    )
    return render(request, "contracts/offer_form.html", context)


def proposal_file(request, proposal_id, file_id):
    attachment = selectors.proposal_file(user=request.user, proposal_id=proposal_id, file_id=file_id)
    return serve_upload(attachment.file, attachment.original_name)


# --- invitations ---


@login_required
@refusals_as_pages
def invite(request):
    freelancer = freelancer_get(user_id=posted_int(request.GET.get("freelancer") or request.POST.get("freelancer")))
    jobs = selectors.client_open_jobs(user=request.user)
    form = InviteForm(request.POST if request.method == "POST" else None, jobs=jobs)
    if request.method == "POST" and form.is_valid():
        job = form.cleaned_data["job"]
        services.invitation_create(
            actor=request.user, job_id=job.pk, freelancer=freelancer, message=form.cleaned_data["message"]
        )
        messages.success(
            request, _("%(name)s was invited to “%(title)s”.") % {"name": freelancer.name, "title": job.title}
        )
        return redirect(job)
    return render(request, "jobs/invite.html", {"form": form, "freelancer": freelancer, "has_jobs": jobs.exists()})


@login_required
@refusals_as_pages
def invitation_decline(request, invitation_id):
    invitation = selectors.invitation_for_freelancer(user=request.user, invitation_id=invitation_id)
    policy.invitation_may_answer(request.user, invitation).enforce()
    form = DeclineForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.invitation_decline(actor=request.user, invitation_id=invitation.pk, reason=form.cleaned_data["reason"])
        messages.info(request, _("You declined the invitation. The client has been told."))
        return redirect("dashboard")
    return render(request, "jobs/invitation_decline.html", {"invitation": invitation, "form": form})
