"""The closed list of jobs events: who hears about each, and what the notification says.

Every action in `jobs.services` writes one `JobEvent` of one of these kinds and notifies the people its
spec names, through messaging (in-app, and email after commit per the user's preferences).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.utils.translation import gettext_lazy as _

# The notification category (email preference) job news is sent under. Messaging's categories are a closed
# list today (messages, contract updates, review reminders); job news counts as contract updates.
CATEGORY = "contract"


class JobEventKind(StrEnum):
    JOB_CREATED = "job_created"
    JOB_PUBLISHED = "job_published"
    JOB_EDITED = "job_edited"
    JOB_CANCELLED = "job_cancelled"
    JOB_EXPIRED = "job_expired"
    JOB_FILLED = "job_filled"
    PROPOSAL_SENT = "proposal_sent"
    PROPOSAL_EDITED = "proposal_edited"
    PROPOSAL_WITHDRAWN = "proposal_withdrawn"
    PROPOSAL_SHORTLISTED = "proposal_shortlisted"
    PROPOSAL_ARCHIVED = "proposal_archived"
    PROPOSAL_RESTORED = "proposal_restored"
    PROPOSAL_MESSAGED = "proposal_messaged"
    PROPOSAL_OFFERED = "proposal_offered"
    PROPOSAL_NOT_HIRED = "proposal_not_hired"
    INVITED = "invited"
    INVITATION_DECLINED = "invitation_declined"
    INVITATION_ACCEPTED = "invitation_accepted"


class To(StrEnum):
    CLIENT = "client"  # the job's client
    FREELANCER = "freelancer"  # the proposal's (or invitation's) freelancer
    NOBODY = "nobody"


@dataclass(frozen=True)
class JobEventSpec:
    to: To
    # The notification (translated lazily: rendered in the recipient's language), formatted with actor, job (title)
    # and freelancer (name); "" = none.
    text: str = ""


K = JobEventKind
SPECS: dict[JobEventKind, JobEventSpec] = {
    K.JOB_CREATED: JobEventSpec(To.NOBODY),
    K.JOB_PUBLISHED: JobEventSpec(To.NOBODY),
    K.JOB_EDITED: JobEventSpec(To.NOBODY),
    K.JOB_CANCELLED: JobEventSpec(To.NOBODY),
    K.JOB_EXPIRED: JobEventSpec(
        To.CLIENT, _("Your job “{job}” expired after {days} days without a hire. Post it again if you still need it.")
    ),
    K.JOB_FILLED: JobEventSpec(To.NOBODY),
    K.PROPOSAL_SENT: JobEventSpec(To.CLIENT, _("{actor} sent a proposal for “{job}”.")),
    K.PROPOSAL_EDITED: JobEventSpec(To.CLIENT, _("{actor} updated their proposal for “{job}”.")),
    K.PROPOSAL_WITHDRAWN: JobEventSpec(To.CLIENT, _("{actor} withdrew their proposal for “{job}”.")),
    K.PROPOSAL_SHORTLISTED: JobEventSpec(To.FREELANCER, _("{actor} shortlisted your proposal for “{job}”.")),
    K.PROPOSAL_ARCHIVED: JobEventSpec(To.NOBODY),
    K.PROPOSAL_RESTORED: JobEventSpec(To.NOBODY),
    K.PROPOSAL_MESSAGED: JobEventSpec(To.NOBODY),  # the message itself is the news (messaging emails it)
    K.PROPOSAL_OFFERED: JobEventSpec(To.NOBODY),  # the offer notifies the freelancer (contracts)
    K.PROPOSAL_NOT_HIRED: JobEventSpec(
        To.FREELANCER, _("The job “{job}” was filled{reason}. Thank you for your proposal.")
    ),
    K.INVITED: JobEventSpec(To.FREELANCER, _("{actor} invited you to propose on “{job}”.")),
    K.INVITATION_DECLINED: JobEventSpec(To.CLIENT, _("{freelancer} declined your invitation to “{job}”.")),
    K.INVITATION_ACCEPTED: JobEventSpec(To.NOBODY),  # the proposal that follows is the news
}
