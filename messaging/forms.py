from django import forms
from django.conf import settings

from marketplace.uploads import megabytes


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
        label="Message",
        required=False,  # a message may be only files; the service says what is missing
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write a message…"}),
    )
    files = MultipleFileField(label="Attach files", required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_message_%s")  # unique beside other forms on a page that embeds a thread
        super().__init__(*args, **kwargs)
        self.fields["body"].widget.attrs["maxlength"] = settings.MESSAGE_MAX_LENGTH
        self.fields["files"].help_text = (
            f"Up to {settings.UPLOAD_MAX_FILES} files, {megabytes(settings.UPLOAD_MAX_FILE_BYTES)} each: "
            "PDF, images, Office documents, text, archives, audio and video."
        )


class EmailPreferenceForm(forms.Form):
    messages = forms.BooleanField(
        label="New messages",
        required=False,
        help_text="One email when someone writes to you and you have not read it yet (a burst is one email).",
    )
    contract_updates = forms.BooleanField(
        label="Contract updates",
        required=False,
        help_text="Offers, funding, submitted and approved work, payments and disputes.",
    )
    reminders = forms.BooleanField(
        label="Review reminders",
        required=False,
        help_text="Reminders before work you have not reviewed is approved and paid automatically.",
    )
