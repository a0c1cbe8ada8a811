"""A large, valid marketplace on PostgreSQL, written with COPY (bulk inserts, no per-row ORM saves).

Valid means the project's own code accepts it: every funded milestone has its hold, its succeeded payment
intent, card payment and balanced fund entry; released ones their release entry and transfer; refunded
ones their refund; payouts take
earnings out; `manage.py escrow_audit` passes on the result. Rows are written in the shape the
services write them (same entry references, kinds, accounts), so pages and sweeps read them as
they would read real data.

At scale 1.0 (the issue's platform): 5,000 users, 20,000 contracts, ~100,000 milestones, ~500,000
messages, a heavy client with 1,000 contracts, a 50-milestone contract and a 20,000-message thread.
Everything scales linearly with `scale` (a few fixed minimums keep tiny runs meaningful); the pool of
overdue milestones for the sweep is sized separately (`overdue`).
"""

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from contracts.events import event_label
from contracts.models import (
    Contract,
    ContractEvent,
    Milestone,
    Offer,
    OfferMilestone,
    OfferRevision,
    Submission,
)
from escrow.ledger import wallet_lines_rebuild
from escrow.models import Account, Entry, Hold, PaymentIntent, PaymentItem, Payout, Posting, Transfer
from marketplace.models import Profile, User
from marketplace.money import format_money, platform_fee
from messaging.models import Message, Notification, Thread, ThreadParticipant

PASSWORD = "bench-pass-2026"
S = Milestone.State
K = Account.Kind
CENT = Decimal("0.01")

SKILLS = [
    "python",
    "django",
    "postgresql",
    "react",
    "typescript",
    "copywriting",
    "seo",
    "figma",
    "illustration",
    "video editing",
    "translation",
    "data analysis",
    "machine learning",
    "devops",
    "kubernetes",
    "aws",
    "php",
    "wordpress",
    "shopify",
    "ios",
    "android",
    "flutter",
    "go",
    "rust",
    "java",
    "spring",
    "accounting",
    "excel",
    "logo design",
    "ux research",
    "product management",
    "technical writing",
    "marketing",
    "sales",
    "voice over",
    "3d modeling",
    "unity",
    "game design",
    "photography",
    "legal writing",
]
FIRST = [
    "Ada",
    "Ben",
    "Chloe",
    "Dmitri",
    "Eva",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Keiko",
    "Liam",
    "Maya",
    "Nils",
    "Olga",
    "Pablo",
    "Qi",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Andersen",
    "Bauer",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
]
CITIES = ["Berlin", "Lisbon", "Toronto", "Austin", "Nairobi", "Manila", "Kraków", "Osaka", "Lima", "Cairo"]
WORDS = [
    "website",
    "redesign",
    "landing page",
    "API",
    "mobile app",
    "brand",
    "catalogue",
    "dashboard",
    "migration",
    "audit",
    "newsletter",
    "campaign",
    "checkout",
    "integration",
    "report",
    "prototype",
]


@dataclass
class Sizes:
    users: int
    contracts: int
    heavy_client_contracts: int
    milestones_per_contract: int  # on average (1..2*avg-1); the big contract has `big_contract_milestones`
    big_contract_milestones: int
    messages: int
    heavy_thread_messages: int
    notifications_per_user: int
    overdue: int

    @classmethod
    def for_scale(cls, scale: float, overdue: int) -> "Sizes":
        def n(full, minimum):
            return max(minimum, round(full * scale))

        return cls(
            users=n(5000, 60),
            contracts=n(20000, 120),
            heavy_client_contracts=n(1000, 30),
            milestones_per_contract=5,
            big_contract_milestones=50,
            messages=n(500_000, 3000),
            heavy_thread_messages=n(20000, 500),
            notifications_per_user=20,
            overdue=overdue,
        )


@dataclass
class Ids:
    """Primary keys handed out here (the tables start empty), so rows can point at each other."""

    counters: dict = field(default_factory=dict)

    def next(self, model) -> int:
        value = self.counters.get(model, 0) + 1
        self.counters[model] = value
        return value


class Table:
    """Rows for one model, written with COPY. `fields` are model field names (attnames for FKs)."""

    def __init__(self, model, fields: list[str]):
        self.model = model
        self.fields = fields
        self.rows: list[tuple] = []

    def add(self, *values) -> None:
        self.rows.append(values)

    def copy(self) -> int:
        meta = self.model._meta
        columns = ", ".join(connection.ops.quote_name(meta.get_field(name).column) for name in self.fields)
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor: Django's wrapper has no COPY
            with raw.copy(f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN") as copy:
                for row in self.rows:
                    copy.write_row(row)
        written, self.rows = len(self.rows), []
        return written


def _name(rng) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


class Generator:
    def __init__(self, sizes: Sizes, seed: int = 42):
        self.sizes = sizes
        self.rng = random.Random(seed)  # noqa: S311 (repeatable test data, not secrets)
        self.ids = Ids()
        self.now = timezone.now()
        self.start = self.now - timedelta(days=365)
        self.counts: dict[str, int] = {}
        self.accounts: dict[tuple, int] = {}
        t = Table
        self.t_user = t(
            User,
            [
                "id",
                "password",
                "is_superuser",
                "is_staff",
                "is_active",
                "date_joined",
                "email",
                "name",
                "wants_to_hire",
                "wants_to_work",
                "timezone",
                "refund_to",
                "language",
                "terms_version",
                "terms_accepted_at",
            ],
        )
        self.t_profile = t(Profile, ["id", "user_id", "headline", "bio", "location", "updated_at"])
        self.t_thread = t(
            Thread, ["id", "subject", "link_url", "notice", "created_at", "last_message_at", "last_message_id"]
        )
        self.t_participant = t(
            ThreadParticipant,
            ["id", "thread_id", "user_id", "joined_at", "last_read_message_id", "emailed_through_message_id"],
        )
        self.t_message = t(Message, ["id", "thread_id", "sender_id", "kind", "body", "link_url", "created_at"])
        self.t_offer = t(
            Offer,
            [
                "id",
                "client_id",
                "freelancer_id",
                "status",
                "decline_reason",
                "created_at",
                "updated_at",
                "closed_at",
                "thread_id",
            ],
        )
        self.t_revision = t(
            OfferRevision,
            [
                "id",
                "offer_id",
                "number",
                "author_id",
                "title",
                "scope",
                "acceptance_criteria",
                "revision_rounds",
                "fee_percent",
                "message",
                "created_at",
            ],
        )
        self.t_offer_milestone = t(
            OfferMilestone, ["id", "revision_id", "key", "position", "title", "deliverable", "due_date", "amount"]
        )
        self.t_contract = t(
            Contract,
            [
                "id",
                "offer_id",
                "agreed_revision_id",
                "client_id",
                "freelancer_id",
                "client_name",
                "freelancer_name",
                "title",
                "scope",
                "acceptance_criteria",
                "revision_rounds",
                "fee_percent",
                "status",
                "created_at",
            ],
        )
        self.t_milestone = t(
            Milestone,
            [
                "id",
                "contract_id",
                "position",
                "title",
                "deliverable",
                "due_date",
                "amount",
                "fee",
                "state",
                "changes_requested_count",
                "created_at",
                "state_changed_at",
            ],
        )
        self.t_event = t(
            ContractEvent,
            [
                "id",
                "contract_id",
                "milestone_id",
                "actor_id",
                "kind",
                "from_state",
                "to_state",
                "note",
                "data",
                "created_at",
            ],
        )
        self.t_submission = t(
            Submission,
            [
                "id",
                "milestone_id",
                "number",
                "submitted_by_id",
                "message",
                "links",
                "created_at",
                "review_deadline",
                "status",
                "closed_at",
            ],
        )
        self.t_hold = t(
            Hold,
            [
                "id",
                "reference",
                "payer_id",
                "payee_id",
                "amount",
                "fee",
                "label",
                "link_url",
                "funding_key",
                "intent_id",
                "created_at",
            ],
        )
        self.t_intent = t(
            PaymentIntent,
            [
                "id",
                "kind",
                "state",
                "idempotency_key",
                "payer_id",
                "amount",
                "credit_used",
                "currency",
                "description",
                "provider",
                "provider_id",
                "provider_charge_id",
                "redirect_url",
                "next_url",
                "card_label",
                "failure_code",
                "failure_message",
                "ledger_reference",
                "created_at",
                "updated_at",
                "confirmed_at",
            ],
        )
        self.t_item = t(
            PaymentItem, ["id", "intent_id", "reference", "payee_id", "amount", "fee", "label", "link_url", "open"]
        )
        self.t_transfer = t(
            Transfer,
            [
                "id",
                "entry_id",
                "payee_id",
                "amount",
                "currency",
                "status",
                "provider",
                "provider_transfer_id",
                "last_error",
                "created_at",
                "sent_at",
            ],
        )
        self.t_payout = t(
            Payout,
            [
                "id",
                "idempotency_key",
                "user_id",
                "amount",
                "currency",
                "status",
                "gateway_payout_id",
                "failure_message",
                "created_at",
            ],
        )
        self.t_account = t(Account, ["id", "kind", "user_id", "reference", "hold_id"])
        self.t_entry = t(
            Entry,
            ["id", "reference", "kind", "memo", "hold_id", "external_id", "created_by_id", "created_at", "intent_id"],
        )
        self.t_posting = t(Posting, ["id", "entry_id", "account_id", "amount"])
        self.t_notification = t(Notification, ["id", "user_id", "kind", "text", "url", "created_at", "read_at"])
        self.tables = [
            self.t_user,
            self.t_profile,
            self.t_thread,
            self.t_participant,
            self.t_offer,
            self.t_revision,
            self.t_offer_milestone,
            self.t_contract,
            self.t_milestone,
            self.t_message,
            self.t_event,
            self.t_submission,
            self.t_intent,
            self.t_item,
            self.t_hold,
            self.t_account,
            self.t_entry,
            self.t_posting,
            self.t_transfer,
            self.t_payout,
            self.t_notification,
        ]
        self.threads: dict[int, dict] = {}  # id -> {"last_id", "last_at", "members"}

    # --- helpers ---

    def _time(self, fraction: float) -> timezone.datetime:
        return self.start + timedelta(seconds=fraction * 330 * 86400)

    def _account(self, kind: str, *, user: int | None = None, hold: int | None = None, reference: str = "") -> int:
        key = (kind, user, reference)
        if key not in self.accounts:
            pk = self.ids.next(Account)
            self.accounts[key] = pk
            self.t_account.add(pk, kind, user, reference, hold)
        return self.accounts[key]

    def _entry(self, *, reference, kind, memo, postings, at, hold=None, actor=None, external_id="", intent=None) -> int:
        assert sum(amount for _, amount in postings) == 0, reference
        pk = self.ids.next(Entry)
        self.t_entry.add(pk, reference, kind, memo[:400], hold, external_id, actor, at, intent)
        for account, amount in postings:
            self.t_posting.add(self.ids.next(Posting), pk, account, amount)
        return pk

    def _message(self, thread: int, sender: int | None, body: str, at, kind="message", link="") -> int:
        pk = self.ids.next(Message)
        self.t_message.add(pk, thread, sender, kind, body, link, at)
        info = self.threads[thread]
        info["last_id"], info["last_at"] = pk, max(info["last_at"], at)
        return pk

    def _event(self, contract: dict, milestone: dict | None, actor, kind, frm, to, at, note="", data=None) -> None:
        """The audit row with its structured data (as contracts.services.record writes it) and its thread line."""
        data = {key: str(value) for key, value in (data or {}).items()}
        self.t_event.add(
            self.ids.next(ContractEvent),
            contract["id"],
            milestone and milestone["id"],
            actor,
            kind,
            frm,
            to,
            note,
            json.dumps(data),
            at,
        )
        who = self.user_names[actor] if actor else "Automatically:"
        text = f"{who} {event_label(kind)}"
        link = contract["url"]
        if milestone is not None:
            text += f" “{milestone['title']}”"
            link = milestone["url"]
            if kind == "fund":
                text += f" ({format_money(milestone['amount'])} is now held in escrow)"
        self._message(contract["thread"], actor, text, at, kind=Message.Kind.EVENT, link=link)

    # --- the platform ---

    def users(self) -> None:
        n = self.sizes.users
        password = make_password(PASSWORD)
        terms = settings.TERMS_VERSION  # every user accepted the current terms when they joined
        self.user_names: dict[int, str] = {}
        self.clients, self.freelancers = [], []
        profile_ct = ContentType.objects.get_for_model(Profile)
        tags = [(i + 1, skill, skill.replace(" ", "-")) for i, skill in enumerate(SKILLS)]
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO taggit_tag (id, name, slug) VALUES (%s, %s, %s)", tags)
        tagged_rows = []
        for pk in range(1, n + 1):
            special = {
                1: ("admin@bench.test", "Bench Admin"),
                2: ("client@bench.test", "Heavy Client"),
                3: ("freelancer@bench.test", "Heavy Freelancer"),
            }
            email, name = special.get(pk, (f"user{pk}@bench.test", _name(self.rng)))
            hires = pk == 2 or (pk > 3 and (pk % 2 == 0 or pk % 10 == 5))
            works = pk == 3 or (pk > 3 and pk % 2 == 1)
            staff = pk == 1
            joined = self._time(self.rng.random() * 0.2)
            self.user_names[pk] = name
            self.t_user.add(
                pk,
                password,
                staff,
                staff,
                True,
                joined,
                email,
                name,
                hires,
                works,
                "Europe/Berlin",
                "credit",
                "en",
                terms,
                joined,
            )
            if hires:
                self.clients.append(pk)
            if works:
                self.freelancers.append(pk)
                profile = self.ids.next(Profile)
                skills = self.rng.sample(tags, 3)
                headline = f"{skills[0][1].title()} and {skills[1][1]} for {self.rng.choice(WORDS)}s"
                bio = f"I help teams with {', '.join(s[1] for s in skills)}. Based in {self.rng.choice(CITIES)}."
                self.t_profile.add(profile, pk, headline, bio, self.rng.choice(CITIES), joined)
                tagged_rows.extend((tag[0], profile_ct.pk, profile) for tag in skills)
        self.counts["users"] = self.t_user.copy()
        self.t_profile.copy()
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy("COPY taggit_taggeditem (tag_id, content_type_id, object_id) FROM STDIN") as copy:
                for row in tagged_rows:
                    copy.write_row(row)

    def contracts(self) -> None:
        sz, rng = self.sizes, self.rng
        total = sz.contracts
        overdue_contracts = -(-sz.overdue // 5) if sz.overdue else 0
        heavy_freelancer_share = 0.3
        for index in range(total + overdue_contracts):
            overdue = index >= total
            if index < sz.heavy_client_contracts:
                client = 2
                freelancer = (
                    3 if (index == 0 or rng.random() < heavy_freelancer_share) else rng.choice(self.freelancers)
                )
            else:
                client = rng.choice(self.clients)
                freelancer = 3 if rng.random() < 0.01 else rng.choice(self.freelancers)
                if freelancer == client:
                    freelancer = 3 if client != 3 else self.freelancers[-1]
            if index == 0:
                count = sz.big_contract_milestones
            elif overdue:
                count = min(5, sz.overdue - (index - total) * 5)
            else:
                count = rng.randint(1, 2 * sz.milestones_per_contract - 1)
            at = self.now - timedelta(days=20) if overdue else self._time(0.1 + 0.8 * index / total)
            self._contract(client, freelancer, count, at, overdue=overdue)
            if len(self.t_message.rows) > 200_000:
                self._flush()
        self._flush()

    def _contract(self, client, freelancer, count, at, *, overdue) -> None:
        rng = self.rng
        cid = self.ids.next(Contract)
        offer, revision, thread = self.ids.next(Offer), self.ids.next(OfferRevision), self.ids.next(Thread)
        title = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} #{cid}"
        url = reverse("contracts:contract_detail", args=[cid])
        self.threads[thread] = {"last_id": 0, "last_at": at, "members": (client, freelancer), "created": at}
        self.t_thread.add(thread, f"Contract: {title}", url, "", at, at, 0)  # last message: set at the end
        scope, criteria = f"Deliver the {title.lower()} as discussed.", "Works as described; reviewed by the client."
        self.t_offer.add(offer, client, freelancer, Offer.Status.ACCEPTED, "", at, at, at, thread)
        self.t_revision.add(revision, offer, 1, client, title, scope, criteria, 2, Decimal("10.00"), "", at)
        self.t_contract.add(
            cid,
            offer,
            revision,
            client,
            freelancer,
            self.user_names[client],
            self.user_names[freelancer],
            title,
            scope,
            criteria,
            2,
            Decimal("10.00"),
            Contract.Status.ACTIVE,
            at,
        )
        contract = {"id": cid, "thread": thread, "url": url, "client": client, "freelancer": freelancer}
        self._message(thread, client, f"Hi! I'd like to hire you for {title}.", at)
        self._event(
            contract, None, freelancer, "contract_started", "", "", at + timedelta(minutes=5), data={"revision": 1}
        )
        for position in range(1, count + 1):
            self._milestone(contract, revision, position, at + timedelta(hours=position), overdue=overdue)

    def _milestone(self, contract, revision, position, at, *, overdue) -> None:
        rng = self.rng
        mid = self.ids.next(Milestone)
        amount = Decimal(rng.randrange(500, 200_000)) * CENT
        fee = platform_fee(amount, Decimal("10.00"))
        title = f"Milestone {position}: {rng.choice(WORDS)}"
        url = reverse("contracts:milestone_detail", args=[contract["id"], mid])
        milestone = {"id": mid, "title": title, "amount": amount, "url": url}
        if overdue:
            state = S.SUBMITTED
        else:
            roll = rng.random()
            state = (
                S.RELEASED
                if roll < 0.5
                else S.FUNDED
                if roll < 0.65
                else S.SUBMITTED
                if roll < 0.75
                else S.DRAFT
                if roll < 0.9
                else S.REFUNDED
                if roll < 0.95
                else S.CHANGES_REQUESTED
            )
        due = (at + timedelta(days=30)).date()
        self.t_offer_milestone.add(
            self.ids.next(OfferMilestone),
            revision,
            uuid.uuid4(),
            position,
            title,
            "The agreed deliverable.",
            due,
            amount,
        )
        client, freelancer = contract["client"], contract["freelancer"]
        changed = at
        if state != S.DRAFT:
            changed = self._fund(contract, milestone, fee, at + timedelta(hours=1))
        if state in (S.SUBMITTED, S.RELEASED, S.CHANGES_REQUESTED):
            submitted = changed + timedelta(days=1)
            if overdue:
                deadline = self.now - timedelta(hours=1) - timedelta(seconds=rng.randrange(86400 * 5))
            elif state == S.SUBMITTED:
                deadline = self.now + timedelta(days=rng.uniform(0.5, 13.5))
            else:
                deadline = submitted + timedelta(days=14)
            submit = {"submission": 1, "review_deadline": deadline.isoformat()}
            self._event(contract, milestone, freelancer, "submit", S.FUNDED, S.SUBMITTED, submitted, data=submit)
            status = {
                S.SUBMITTED: Submission.Status.PENDING,
                S.RELEASED: Submission.Status.APPROVED,
                S.CHANGES_REQUESTED: Submission.Status.CHANGES_REQUESTED,
            }[state]
            decided = submitted + timedelta(days=2)
            self.t_submission.add(
                self.ids.next(Submission),
                mid,
                1,
                freelancer,
                "Here is the work.",
                "[]",
                submitted,
                deadline,
                status,
                None if status == Submission.Status.PENDING else decided,
            )
            changed = submitted
            if state == S.RELEASED:
                self._release(contract, milestone, fee, decided)
                changed = decided
            elif state == S.CHANGES_REQUESTED:
                note = "Please adjust the layout."
                self._event(
                    contract, milestone, client, "request_changes", S.SUBMITTED, S.CHANGES_REQUESTED, decided, note
                )
                changed = decided
        elif state == S.REFUNDED:
            changed = self._refund(contract, milestone, changed + timedelta(days=2))
        self.t_milestone.add(
            mid,
            contract["id"],
            position,
            title,
            "The agreed deliverable.",
            due,
            amount,
            fee,
            state,
            1 if state == S.CHANGES_REQUESTED else 0,
            at,
            changed if state != S.DRAFT else None,
        )

    def _fund(self, contract, milestone, fee, at):
        client, freelancer, mid, amount = (
            contract["client"],
            contract["freelancer"],
            milestone["id"],
            milestone["amount"],
        )
        reference = Milestone.hold_reference_for(mid)
        intent, hold = self.ids.next(PaymentIntent), self.ids.next(Hold)
        label = f"{milestone['title']} — contract #{contract['id']}"
        # A payment the provider confirmed (hosted card entry), as escrow.payments records it.
        self.t_intent.add(
            intent,
            PaymentIntent.Kind.FUNDING,
            PaymentIntent.State.SUCCEEDED,
            f"bench:fund:{mid}",
            client,
            amount,
            Decimal("0.00"),
            "USD",
            f"Escrow: {label}"[:400],
            "sandbox",
            f"cs_bench_{intent}",
            f"ch_bench_{intent}",
            f"/sandbox-pay/checkout/cs_bench_{intent}/",
            milestone["url"],
            "Visa •••• 4242",
            "",
            "",
            f"payment:{intent}",
            at,
            at,
            at,
        )
        self.t_item.add(
            self.ids.next(PaymentItem), intent, reference, freelancer, amount, fee, label[:300], milestone["url"], False
        )
        self.t_hold.add(
            hold, reference, client, freelancer, amount, fee, label, milestone["url"], f"bench:fund:{mid}", intent, at
        )
        funding = self._account(K.USER_FUNDING, user=client)
        escrow = self._account(K.ESCROW_HOLD, hold=hold, reference=reference)
        gateway = self._account(K.GATEWAY)
        self._entry(
            reference=f"payment:{intent}",
            kind=Entry.Kind.CHARGE,
            memo="Card payment (Visa •••• 4242)",
            postings=[(gateway, -amount), (funding, amount)],
            at=at,
            actor=client,
            external_id=f"ch_bench_{intent}",
            intent=intent,
        )
        self._entry(
            reference=f"fund:{reference}",
            kind=Entry.Kind.FUND,
            memo=f"Paid into escrow: {label}",
            postings=[(funding, -amount), (escrow, amount)],
            at=at,
            actor=client,
            hold=hold,
            intent=intent,
        )
        milestone.update(hold=hold, escrow=escrow, label=label)
        self._event(contract, milestone, client, "fund", S.DRAFT, S.FUNDED, at, data={"amount": amount})
        return at

    def _release(self, contract, milestone, fee, at) -> None:
        amount, freelancer = milestone["amount"], contract["freelancer"]
        self._event(contract, milestone, contract["client"], "approve", S.SUBMITTED, S.APPROVED, at)
        received = {"released": amount, "fee": fee, "received": amount - fee}
        self._event(contract, milestone, contract["client"], "release", S.APPROVED, S.RELEASED, at, data=received)
        available = self._account(K.USER_AVAILABLE, user=freelancer)
        release = self._entry(
            reference=f"release:{Milestone.hold_reference_for(milestone['id'])}",
            kind=Entry.Kind.RELEASE,
            memo=f"Released from escrow: {milestone['label']} (after a {format_money(fee)} platform fee)",
            postings=[(milestone["escrow"], -amount), (available, amount - fee), (self._account(K.PLATFORM_FEES), fee)],
            at=at,
            actor=contract["client"],
            hold=milestone["hold"],
        )
        transfer = self.ids.next(Transfer)  # release = a transfer to the freelancer's payout account
        self.t_transfer.add(
            transfer,
            release,
            freelancer,
            amount - fee,
            "USD",
            Transfer.Status.SENT,
            "sandbox",
            f"tr_bench_{transfer}",
            "",
            at,
            at,
        )
        # Freelancers withdraw about half of what they earn, right away: payouts lengthen the statement.
        if self.rng.random() < 0.5:
            payout, value = self.ids.next(Payout), ((amount - fee) / 2).quantize(CENT)
            self.t_payout.add(
                payout,
                f"bench:payout:{payout}",
                freelancer,
                value,
                "USD",
                Payout.Status.PAID,
                f"po_bench_{payout}",
                "",
                at,
            )
            self._entry(
                reference=f"payout:{payout}",
                kind=Entry.Kind.PAYOUT,
                memo="Withdrawal to your bank account",
                postings=[(available, -value), (self._account(K.PAYOUTS, user=freelancer), value)],
                at=at,
                actor=freelancer,
                external_id=f"po_bench_{payout}",
            )
        self._notify(contract["freelancer"], f"“{milestone['title']}” was approved.", milestone["url"], at)

    def _refund(self, contract, milestone, at):
        amount, client = milestone["amount"], contract["client"]
        reference = Milestone.hold_reference_for(milestone["id"])
        refunded = {"refunded": amount}
        self._event(contract, milestone, contract["freelancer"], "refund", S.FUNDED, S.REFUNDED, at, data=refunded)
        self._entry(
            reference=f"refund:{reference}:1",
            kind=Entry.Kind.REFUND_CREDIT,
            memo=f"Refunded to your credit: {milestone['label']}",
            postings=[(milestone["escrow"], -amount), (self._account(K.USER_CREDIT, user=client), amount)],
            at=at,
            actor=contract["freelancer"],
            hold=milestone["hold"],
        )
        return at

    def _notify(self, user, text, url, at) -> None:
        read = at + timedelta(hours=3) if self.rng.random() < 0.9 else None
        self.t_notification.add(self.ids.next(Notification), user, "contract", text, url, at, read)

    def chat(self) -> None:
        """Messages between the parties until the platform holds `messages` in all (events included)."""
        rng, sz = self.rng, self.sizes
        heavy = 1  # the big contract's thread
        members = self.threads[heavy]["members"]
        start = self.threads[heavy]["created"]
        step = (self.now - start) / max(1, sz.heavy_thread_messages)
        for i in range(sz.heavy_thread_messages):
            self._message(heavy, members[i % 2], f"Update {i}: progress on the work, see the notes.", start + step * i)
            if len(self.t_message.rows) > 200_000:
                self._flush_messages()
        remaining = sz.messages - self.ids.counters.get(Message, 0)
        thread_ids = list(self.threads)
        for i in range(max(0, remaining)):
            thread = rng.choice(thread_ids)
            info = self.threads[thread]
            at = info["last_at"] + timedelta(minutes=rng.randrange(1, 600))
            at = min(at, self.now - timedelta(minutes=1))
            self._message(thread, info["members"][i % 2], f"Message {i} about the work.", at)
            if len(self.t_message.rows) > 200_000:
                self._flush_messages()
        self._flush_messages()

    def _flush_messages(self) -> None:
        self.counts["messages"] = self.counts.get("messages", 0) + self.t_message.copy()

    def _flush(self) -> None:
        for table in self.tables:
            if table is self.t_message:
                self._flush_messages()
            elif table.rows:
                name = table.model._meta.model_name
                self.counts[name] = self.counts.get(name, 0) + table.copy()

    def threads_and_notifications(self) -> None:
        rng = self.rng
        with connection.cursor() as cursor:  # table names from the models, nothing from outside
            threads, messages = Thread._meta.db_table, Message._meta.db_table
            sql = (
                f"UPDATE {threads} t SET last_message_id = m.last_id, last_message_at = m.last_at "  # noqa: S608
                "FROM (SELECT thread_id, MAX(id) AS last_id, MAX(created_at) AS last_at "
                f"FROM {messages} GROUP BY thread_id) m WHERE m.thread_id = t.id"
            )
            cursor.execute(sql)
        for pk, info in self.threads.items():
            for user in info["members"]:
                # Most threads are read; a fifth have something new.
                read = info["last_id"] if rng.random() < 0.8 else max(0, info["last_id"] - 3)
                self.t_participant.add(self.ids.next(ThreadParticipant), pk, user, info["created"], read, read)
        for user in range(1, self.sizes.users + 1):
            for i in range(self.sizes.notifications_per_user // 2):
                self._notify(user, f"Notification {i}", "/dashboard/", self._time(rng.random()))
        self._flush()

    def run(self) -> dict[str, int]:
        self.users()
        self.contracts()
        self.chat()
        self.threads_and_notifications()
        self._reset_sequences()
        # The entries went in with COPY: their wallet lines are derived as the migration's backfill derives them.
        self.counts["wallet lines"] = wallet_lines_rebuild()
        return self.counts

    def _reset_sequences(self) -> None:
        models = [
            User,
            Profile,
            Thread,
            ThreadParticipant,
            Message,
            Offer,
            OfferRevision,
            OfferMilestone,
            Contract,
            Milestone,
            ContractEvent,
            Submission,
            PaymentIntent,
            PaymentItem,
            Transfer,
            Hold,
            Payout,
            Account,
            Entry,
            Posting,
            Notification,
        ]
        with connection.cursor() as cursor:
            for model in models:
                table = model._meta.db_table
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                cursor.execute(f"SELECT setval({sequence}, COALESCE((SELECT MAX(id) FROM {table}), 1))")  # noqa: S608
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('taggit_tag', 'id'), (SELECT MAX(id) FROM taggit_tag))"
            )


def generate(*, scale: float, overdue: int) -> dict[str, int]:
    """Fill the (empty, migrated) database, table by table in dependency order; returns row counts."""
    sizes = Sizes.for_scale(scale, overdue)
    counts = Generator(sizes).run()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {**counts, **{"sizes": json.dumps(sizes.__dict__)}}
