"""Test doubles plugged in through the PAYMENT_GATEWAY / PAYOUT_METHOD settings."""

import threading
import time

from escrow.gateways import GatewayUnavailable, SandboxGateway, SandboxPayouts


class CountingGateway(SandboxGateway):
    """The sandbox, counting real calls; `delay` widens the window in which concurrent requests overlap."""

    lock = threading.Lock()
    charges: list[str] = []
    refunds: list[str] = []
    delay = 0.0

    @classmethod
    def reset(cls, delay: float = 0.0) -> None:
        with cls.lock:
            cls.charges, cls.refunds, cls.delay = [], [], delay

    def charge(self, **kwargs):
        with self.lock:
            self.charges.append(kwargs["idempotency_key"])
        time.sleep(self.delay)
        return super().charge(**kwargs)

    def refund(self, **kwargs):
        with self.lock:
            self.refunds.append(kwargs["idempotency_key"])
        return super().refund(**kwargs)


class FailingPayouts(SandboxPayouts):
    def payout(self, **kwargs):
        raise GatewayUnavailable("The bank could not be reached.")


class BrokenRefunds(SandboxGateway):
    def refund(self, **kwargs):
        raise GatewayUnavailable()
