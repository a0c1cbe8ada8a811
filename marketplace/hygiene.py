"""Input hygiene, in one place.

- A NUL byte in any query or form parameter (name or value) or in an uploaded file's name is refused with a
  400 before any view runs: PostgreSQL cannot store NUL in text, and no honest form sends one.
- Bidirectional control characters (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F) are removed from every
  query and form value (passwords excepted), so names, titles, messages and everything derived from them
  (notifications, email subjects) cannot be visually reordered ("invoice‮fdp.exe"). `clean_text` is the same
  cleaner for text that does not come from a request (emails built from stored data, the admin's own saves).
"""

from django.core.exceptions import BadRequest

NUL = "\x00"
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
_REMOVE = dict.fromkeys(map(ord, BIDI_CONTROLS + NUL))
# Fields whose value must reach the view exactly as typed (a password is compared, never shown).
UNTOUCHED_FIELDS = frozenset({"password", "password1", "password2", "oldpassword", "new_password1", "new_password2"})


def clean_text(value: str) -> str:
    """The text without bidirectional control characters or NUL bytes."""
    return value.translate(_REMOVE) if value else value


def _has_nul(querydict) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in querydict.lists())


def _cleaned(querydict):
    if not any(ch in value for _, values in querydict.lists() for value in values for ch in BIDI_CONTROLS):
        return querydict
    cleaned = querydict.copy()
    for key, values in querydict.lists():
        if key not in UNTOUCHED_FIELDS:
            cleaned.setlist(key, [clean_text(value) for value in values])
    cleaned._mutable = False
    return cleaned


class InputHygieneMiddleware:
    """Refuse NUL bytes with a 400; strip bidi controls from parameters (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path or _has_nul(request.GET):
            raise BadRequest("A NUL byte is not allowed in a request.")
        request.GET = _cleaned(request.GET)
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            if _has_nul(request.POST) or any(
                NUL in (f.name or "") for _, files in request.FILES.lists() for f in files
            ):
                raise BadRequest("A NUL byte is not allowed in a form.")
            request.POST = _cleaned(request.POST)
        return self.get_response(request)
