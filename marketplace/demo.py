"""Demo data for `manage.py seed_demo`. Each issue extends `seed_demo` so the demo shows every feature."""

from contracts.demo import seed_contracts
from feedback.demo import seed_feedback
from jobs.demo import seed_jobs

from .models import Profile, User
from .services import profile_update, user_email_mark_verified

DEMO_PASSWORD = "demo-pass-2026"

DEMO_USERS = [
    {"email": "client@demo.test", "name": "Clara Client", "wants_to_hire": True, "timezone": "Europe/Berlin"},
    {
        "email": "freelancer@demo.test",
        "name": "Felix Freelancer",
        "wants_to_work": True,
        "timezone": "America/New_York",
    },
    {
        "email": "admin@demo.test",
        "name": "Sam Staff",
        "is_staff": True,
        "is_superuser": True,
        "timezone": "UTC",
    },
]


def seed_demo() -> list[User]:
    """Create the demo accounts if missing. Idempotent: running it again changes nothing.

    Not one transaction: the demo client pays on the sandbox provider, which is called outside transactions.
    """
    users = []
    for fields in DEMO_USERS:
        user = User.objects.filter(email=fields["email"]).first()
        if user is None:
            user = User.objects.create_user(password=DEMO_PASSWORD, **fields)
        users.append(user)
    seed_profiles()
    for user in User.objects.filter(email__endswith="@demo.test"):
        user_email_mark_verified(user=user)  # demo accounts can log in, send offers and be paid at once
    by_email = {user.email: user for user in users}
    seed_contracts(client=by_email["client@demo.test"], freelancer=by_email["freelancer@demo.test"])
    seed_jobs(client=by_email["client@demo.test"])
    seed_feedback(client=by_email["client@demo.test"])
    return users


DEMO_FREELANCERS = [
    {
        "email": "priya@demo.test",
        "name": "Priya Natarajan",
        "timezone": "Asia/Kolkata",
        "headline": "UX designer for SaaS dashboards",
        "location": "Bengaluru, India",
        "skills": ["ux design", "figma", "user research", "prototyping"],
        "bio": "I design dashboards people understand on the first visit.\n\n"
        "Eight years with B2B SaaS teams: research, flows, wireframes and polished Figma files your developers "
        "can build from.",
    },
    {
        "email": "marco@demo.test",
        "name": "Marco Rossi",
        "timezone": "Europe/Rome",
        "headline": "Conversion copywriter, English and Italian",
        "location": "Milan, Italy",
        "skills": ["copywriting", "seo", "email marketing", "translation"],
        "bio": "Landing pages, onboarding emails and product copy that sells without shouting.\n\n"
        "I write in English and Italian and deliver in two rounds: a draft, then your changes.",
    },
    {
        "email": "lena@demo.test",
        "name": "Lena Fischer",
        "timezone": "Europe/Berlin",
        "headline": "Data scientist: forecasting and experiments",
        "location": "Hamburg, Germany",
        "skills": ["python", "pandas", "machine learning", "sql", "statistics"],
        "bio": "I turn messy data into forecasts and A/B test reads you can act on.\n\n"
        "Deliverables are notebooks plus a one-page summary for the people who decide.",
    },
    {
        "email": "tom@demo.test",
        "name": "Tom Becker",
        "timezone": "Australia/Sydney",
        "headline": "Mobile developer (Flutter, Swift, Kotlin)",
        "location": "Sydney, Australia",
        "skills": ["flutter", "swift", "kotlin", "firebase"],
        "bio": "Native-feeling iOS and Android apps from one codebase, or fully native when it matters.\n\n"
        "I ship to the stores and hand over a build pipeline you can run without me.",
    },
]

DEMO_PROFILES = {
    "freelancer@demo.test": {
        "headline": "Full-stack Django developer",
        "location": "New York, USA",
        "skills": ["python", "django", "postgresql", "htmx"],
        "bio": "I build and rescue Django applications: data models that last, fast pages and tests you can trust.\n\n"
        "Ten years of Python, mostly marketplaces and internal tools. I work in fixed-price milestones with a "
        "demo at the end of each one.",
    },
    **{
        fields["email"]: {key: fields[key] for key in ("headline", "location", "skills", "bio")}
        for fields in DEMO_FREELANCERS
    },
}


def seed_profiles() -> None:
    """Give the demo freelancer a full profile and add a few more freelancers for the directory. Idempotent:
    missing users and profiles are created, existing ones are left as they are."""
    for fields in DEMO_FREELANCERS:
        if not User.objects.filter(email=fields["email"]).exists():
            User.objects.create_user(
                email=fields["email"],
                name=fields["name"],
                password=DEMO_PASSWORD,
                timezone=fields["timezone"],
                wants_to_work=True,
            )
    for email, fields in DEMO_PROFILES.items():
        user = User.objects.filter(email=email).first()
        if user is None or Profile.objects.filter(user=user).exists():
            continue
        profile_update(user=user, **fields)
