"""Notification categories, registered by the apps that send them.

Messaging keeps no vocabulary of its callers: an app registers each kind of notification it sends
(`notification_category_register("contract", "Contract updates", ...)`, typically from its
`AppConfig.ready`), and `notify` refuses a kind nobody registered. Categories live in code, not in
the database, so a new kind needs no messaging migration; a user's choices are stored by key
(`EmailPreference.email_off`).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class NotificationCategory:
    key: str  # stored on each notification; at most 32 characters
    label: str  # shown in the notification list and on the email preferences page
    email_preference: bool = True  # users may switch this category's emails off (on by default)
    help_text: str = ""  # one sentence under the switch on the preferences page


_CATEGORIES: dict[str, NotificationCategory] = {}


def notification_category_register(
    key: str, label: str, *, email_preference: bool = True, help_text: str = ""
) -> NotificationCategory:
    """Declare a kind of notification. Registering the same definition twice is harmless (apps'
    `ready` can run more than once in tests); a different definition under a taken key is an error."""
    if not key or len(key) > 32 or not key.replace("_", "").isalnum():
        raise ValueError(f"A notification category key is 1-32 letters, digits or underscores, not {key!r}.")
    category = NotificationCategory(key=key, label=label, email_preference=email_preference, help_text=help_text)
    existing = _CATEGORIES.setdefault(key, category)
    if existing != category:
        raise ValueError(f"The notification category {key!r} is already registered differently: {existing}.")
    return category


def notification_category_get(key: str) -> NotificationCategory:
    try:
        return _CATEGORIES[key]
    except KeyError:
        raise ValueError(
            f"Unknown notification category {key!r}; register it with notification_category_register "
            f"(known: {sorted(_CATEGORIES)})."
        ) from None


def notification_categories() -> list[NotificationCategory]:
    """Every registered category, in registration order."""
    return list(_CATEGORIES.values())


MESSAGE = "message"  # messaging's own category: emails about unread messages
