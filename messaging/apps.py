from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = _("Messaging")

    def ready(self):
        from . import signals  # noqa: F401 (connects the email provider's bounce/complaint webhook)
        from .categories import MESSAGE, notification_category_register

        notification_category_register(
            MESSAGE,
            _("New messages"),
            help_text=_("One email when someone writes to you and you have not read it yet (a burst is one email)."),
        )
