"""How contract events reach people: in-app notifications and email (through messaging)."""

from django.utils.translation import gettext_lazy as _

from messaging.categories import notification_category_register
from messaging.services import notify


def register_notification_categories() -> None:
    """Messaging keeps no contracts vocabulary: the kinds contracts sends are declared here."""
    notification_category_register(
        "contract",
        _("Contract updates"),
        help_text=_("Offers, funding, submitted and approved work, payments and disputes."),
    )
    notification_category_register(
        "reminder",
        _("Review reminders"),
        help_text=_("Reminders before work you have not reviewed is approved and paid automatically."),
    )


def notify_parties(*, recipients, text, url: str, kind: str = "contract", mail=None) -> None:
    """Notify each recipient; emails go out after commit, per each recipient's email preferences. `text`: a
    string, a lazy translation or a function, rendered in each recipient's language (messaging.notify);
    `mail(user)` gives the email's section for that recipient (their timezone and language)."""
    for user in recipients:
        notify(user=user, kind=kind, text=text, url=url, mail=mail(user) if mail else None)


def notify_staff(*, text: str, url: str) -> None:
    """Tell every active staff member (disputes opened, evidence arriving)."""
    from marketplace.models import User

    notify_parties(recipients=User.objects.filter(is_staff=True, is_active=True), text=text, url=url)
