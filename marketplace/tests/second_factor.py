"""Test helpers for two-factor authentication (allauth.mfa)."""

import time

from allauth.account.internal.flows.login import (
    _AUTHENTICATION_METHODS_USER_SESSION_KEY,
    AUTHENTICATION_METHODS_SESSION_KEY,
)
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret, hotp_value
from django.test import Client

TOTP_PERIOD = 30


def totp_activate(user) -> str:
    """Give the user a TOTP authenticator; returns its secret."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def totp_code(secret: str) -> str:
    """The current code. allauth accepts the current time step only (MFA_TOTP_TOLERANCE 0), so within the last
    seconds of a step this waits for the next one: a code a browser test types must still be valid when the form
    arrives (a code taken at 29.9 s of its step was refused as "Incorrect code" once)."""
    remaining = TOTP_PERIOD - time.time() % TOTP_PERIOD
    if remaining < 3:
        time.sleep(remaining)
    return f"{hotp_value(secret, int(time.time()) // TOTP_PERIOD):06d}"


class SecondFactorClient(Client):
    """The test client, where `force_login` of a staff member stands for a complete staff sign-in: password and
    a TOTP code (allauth records the second factor in the session). Tests of the second-factor requirement
    itself use a plain `django.test.Client`."""

    def force_login(self, user, backend=None):
        super().force_login(user, backend)
        if user.is_staff:
            authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
            if authenticator is None:
                totp_activate(user)
                authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
            session = self.session
            session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
            session[AUTHENTICATION_METHODS_SESSION_KEY] = [
                {"method": "password", "at": time.time(), "email": user.email},
                {"method": "mfa", "at": time.time(), "id": authenticator.pk, "type": "totp"},
            ]
            session.save()
