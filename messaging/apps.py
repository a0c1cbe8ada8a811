from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self):
        from . import signals  # noqa: F401 (connects the email provider's bounce/complaint webhook)
        from .categories import MESSAGE, notification_category_register

        notification_category_register(
            MESSAGE,
            "New messages",
            help_text="One email when someone writes to you and you have not read it yet (a burst is one email).",
        )
