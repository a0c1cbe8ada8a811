"""The feedback form only parses: stars per criterion, the public comment, the private note."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from .services import COMMENT_MAX

STARS = [(n, ngettext_lazy("%(count)d star", "%(count)d stars", n) % {"count": n}) for n in range(1, 6)]


class FeedbackForm(forms.Form):
    comment = forms.CharField(
        label=_("Public comment"),
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Shown with your rating once both of you have written or the feedback period ends."),
    )
    private_note = forms.CharField(
        label=_("Private note to the platform (optional)"),
        max_length=COMMENT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Only our staff read this; the other party never sees it."),
    )

    def __init__(self, criteria, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        stars = {}
        for key, label, help_text in criteria:
            stars[f"score_{key}"] = forms.TypedChoiceField(
                label=label, choices=STARS, coerce=int, widget=forms.RadioSelect, help_text=help_text
            )
        self.fields = {**stars, **self.fields}

    def star_fields(self):
        return [self[f"score_{key}"] for key, _label, _help in self.criteria]

    def scores(self) -> dict[str, int]:
        return {key: self.cleaned_data[f"score_{key}"] for key, _label, _help in self.criteria}
