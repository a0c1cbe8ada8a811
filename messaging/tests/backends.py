"""An email delivery backend for tests: Django's locmem backend that refuses chosen addresses, the way an
SMTP server that is down (or a provider that rejects one recipient) would."""

from django.core.mail.backends.locmem import EmailBackend

REFUSED: set[str] = set()  # addresses to refuse; "*" refuses everything


class FlakyBackend(EmailBackend):
    def send_messages(self, messages):
        for message in messages:
            if "*" in REFUSED or set(message.to) & REFUSED:
                raise ConnectionRefusedError(f"SMTP refused {message.to}")
        return super().send_messages(messages)
