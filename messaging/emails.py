"""Every email the site sends, rendered from one layout: templates/messaging/email/base.html and base.txt.

An email is a list of sections (a heading, paragraphs, an optional quote of someone's words and a button
to the item), a greeting, and a footer that says why the recipient gets it and links to their email
preferences. Both parts are rendered from the same context; the HTML part gets its CSS inlined
(`css_inline`), since mail clients drop <style> blocks.

Emails of a category users may switch off carry `List-Unsubscribe` (a signed link that unsubscribes the
recipient from exactly the categories in that email) and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
(RFC 8058: the mail client POSTs to the link, no login needed). Account and security emails carry none.

Subjects are short ("Work submitted: Logo design"): `subject_line` cleans them (no bidi controls, NUL or
line breaks) and cuts them to SUBJECT_MAX characters; titles inside them are cut with `short`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import css_inline
from django.conf import settings
from django.core import signing
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from marketplace.formats import format_datetime
from marketplace.hygiene import clean_text
from marketplace.i18n import user_language  # noqa: F401 (the one rule, used here and by callers)

from .categories import notification_category_get

SUBJECT_MAX = 78  # RFC 5322's recommended line length: most clients show about this much
TITLE_MAX = 48  # a title quoted in a subject
UNSUBSCRIBE_SALT = "messaging.unsubscribe"
BASE_HTML = "messaging/email/base.html"
BASE_TEXT = "messaging/email/base.txt"
_inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def short(text: str, limit: int = TITLE_MAX) -> str:
    """One line of at most `limit` characters, cut at a word with an ellipsis."""
    text = " ".join(clean_text(text or "").split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ,.;:—-") + "…"


def subject_line(text: str) -> str:
    return short(text, SUBJECT_MAX)


def site_url(path: str) -> str:
    """An absolute link on this site (SITE_URL, never the host a request happened to use)."""
    return f"{settings.SITE_URL}{path}" if path.startswith("/") else path


def when(value: datetime, user) -> str:
    """An exact time in the recipient's timezone and the active language (marketplace.formats):
    "Tue, Dec 8, 2026, 14:05 CET" / "Di., 8. Dez. 2026, 14:05 CET"."""
    with timezone.override(user.timezone):
        return format_datetime(value, zone=True, weekday=True)


@dataclass(frozen=True)
class Section:
    """One thing that happened, as an email tells it. Stored as JSON in the outbox row (`as_dict`)."""

    subject: str  # also the section's heading
    paragraphs: tuple[str, ...] = ()
    action_label: str = ""
    url: str = ""  # absolute
    # Someone's own words (a note, messages) as (who wrote it and when, the words): quoted, never in a subject.
    quotes: tuple[tuple[str, str], ...] = ()
    category: str = ""  # the notification category it belongs to ("" for account emails)
    lines: tuple[str, ...] = field(default=())  # small print under the paragraphs (e.g. a file list)

    def __post_init__(self):
        # Lazy translations become text now, in the language active where the section is written (the
        # recipient's), not later when the outbox row is saved or rendered.
        for name in ("subject", "action_label", "url", "category"):
            object.__setattr__(self, name, str(getattr(self, name)))
        object.__setattr__(self, "paragraphs", tuple(str(p) for p in self.paragraphs))
        object.__setattr__(self, "lines", tuple(str(line) for line in self.lines))
        object.__setattr__(self, "quotes", tuple((str(by), str(words)) for by, words in self.quotes))

    def as_dict(self) -> dict:
        """JSON for the outbox row (every text is already a string: see __post_init__)."""
        data = asdict(self)
        data["paragraphs"], data["lines"] = list(self.paragraphs), list(self.lines)
        data["quotes"] = [list(quote) for quote in self.quotes]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Section:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["paragraphs"] = tuple(known.get("paragraphs", ()))
        known["lines"] = tuple(known.get("lines", ()))
        known["quotes"] = tuple((str(by), str(words)) for by, words in known.get("quotes", ()))
        return cls(**known)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    headers: dict


def unsubscribe_token(user_id: int, categories) -> str:
    return signing.dumps({"u": user_id, "c": sorted(set(categories))}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_read(token: str) -> tuple[int, list[str]]:
    """The user id and categories a token unsubscribes; raises signing.BadSignature if it was not ours."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("c"), list):
        raise signing.BadSignature("Not an unsubscribe token.")
    return data["u"], [str(key) for key in data["c"]]


def _switchable(categories) -> list[str]:
    """Of these categories, those users may switch off (unknown ones are ignored)."""
    keys = []
    for key in dict.fromkeys(categories):
        try:
            if notification_category_get(key).email_preference:
                keys.append(key)
        except ValueError:
            continue
    return keys


def _quoted(text: str) -> str:
    """Someone's words in the text part: each line after "> "."""
    return "\n".join(f"> {line}".rstrip() for line in (text or "").strip().splitlines())


def render(
    *,
    user,
    sections: list[Section],
    subject: str,
    reason: str = "",
    more_note: str = "",
    to_name: str = "",
) -> Rendered:
    """The subject, text and HTML parts and the headers of one email to `user` (or, with no user, to
    `to_name`), in the recipient's language and timezone."""
    categories = [section.category for section in sections if section.category]
    unsubscribable = _switchable(categories) if user is not None else []
    unsubscribe_url = ""
    headers = {}
    if unsubscribable:
        token = unsubscribe_token(user.pk, unsubscribable)
        unsubscribe_url = site_url(reverse("notifications:unsubscribe", args=[token]))
        headers = {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    language = user_language(user) if user is not None else settings.LANGUAGE_CODE
    with translation.override(language), timezone.override(user.timezone if user is not None else UTC):
        if not reason:
            labels = [str(notification_category_get(key).label) for key in unsubscribable]
            reason = (
                _("You get this email because “%(categories)s” emails are on for your %(site)s account.")
                % {"categories": "”, “".join(labels), "site": settings.SITE_NAME}
                if labels
                else _("You get this email because it concerns your %(site)s account.") % {"site": settings.SITE_NAME}
            )
        context = {
            "site_name": settings.SITE_NAME,
            "site_url": settings.SITE_URL,
            "name": user.get_short_name() if user is not None else to_name,
            "sections": [
                {**section.as_dict(), "quotes": [(by, words, _quoted(words)) for by, words in section.quotes]}
                for section in sections
            ],
            "subject": subject_line(subject),
            "reason": reason,
            "more_note": more_note,  # e.g. "… and 3 earlier updates: see your notifications on the site."
            "preferences_url": site_url(reverse("notifications:preferences")),
            "unsubscribe_url": unsubscribe_url,
            "language": language,
        }
        text = render_to_string(BASE_TEXT, context)
        html = _inliner.inline(render_to_string(BASE_HTML, context))
    return Rendered(subject=context["subject"], text=text, html=html, headers=headers)
