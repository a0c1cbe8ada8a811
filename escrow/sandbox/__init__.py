"""A payment provider's test mode, run inside this site so `make run` needs nothing.

It behaves like a real provider, as an outside system: its own tables (its checkouts, charges,
refunds, connected accounts, events), its own hosted pages under /sandbox-pay/ (visibly "Sandbox"),
ids of its own, webhooks signed with HMAC-SHA256 and delivered by a Celery task after commit. Escrow
talks to it only through `escrow.providers.sandbox.SandboxProvider`, as it talks to Stripe.
"""
