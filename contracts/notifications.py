"""How contract events reach people: in-app notifications and email (through messaging)."""

from messaging.services import notify


def notify_parties(*, recipients, text: str, url: str, kind: str = "contract") -> None:
    """Notify each recipient; emails go out after commit, per each recipient's email preferences."""
    for user in recipients:
        notify(user=user, kind=kind, text=text, url=url)
