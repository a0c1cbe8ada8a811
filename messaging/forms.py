from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from marketplace.uploads import megabytes

from .categories import notification_categories


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input. Their checks (type, content, size) are in marketplace.uploads."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        return [f for f in files if f]


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        required=False,  # a message may be only files; the service says what is missing
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("Write a message…")}),
    )
    files = MultipleFileField(label=_("Attach files"), required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_message_%s")  # unique beside other forms on a page that embeds a thread
        super().__init__(*args, **kwargs)
        self.fields["body"].widget.attrs["maxlength"] = settings.MESSAGE_MAX_LENGTH
        self.fields["files"].help_text = _(
            "Up to %(count)d files, %(size)s each: PDF, images, Office documents, text, archives, audio and video."
        ) % {"count": settings.UPLOAD_MAX_FILES, "size": megabytes(settings.UPLOAD_MAX_FILE_BYTES)}


class EmailPreferenceForm(forms.Form):
    """One switch per notification category that users may turn off (messaging.categories)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for category in notification_categories():
            if category.email_preference:
                self.fields[category.key] = forms.BooleanField(
                    label=category.label, required=False, help_text=category.help_text
                )
