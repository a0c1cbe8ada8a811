"""How contract events reach people: in-app notifications and email (through messaging)."""

from messaging.services import notify


def notify_parties(*, recipients, text: str, url: str, kind: str = "contract") -> None:
    """Notify each recipient; emails go out after commit, per each recipient's email preferences."""
    for user in recipients:
        notify(user=user, kind=kind, text=text, url=url)


def notify_staff(*, text: str, url: str) -> None:
    """Tell every active staff member (disputes opened, evidence arriving)."""
    from marketplace.models import User

    notify_parties(recipients=User.objects.filter(is_staff=True, is_active=True), text=text, url=url)
