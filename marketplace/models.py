from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from taggit.managers import TaggableManager
from timezone_field import TimeZoneField


class EmailUserManager(UserManager):
    """Users log in with their email address; addresses are compared case-insensitively."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractUser):
    """A person on the marketplace. One account can hire, work, or both."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField(_("email address"), unique=True)
    name = models.CharField(_("full name"), max_length=150)
    wants_to_hire = models.BooleanField(_("hires freelancers"), default=False)
    wants_to_work = models.BooleanField(_("works as a freelancer"), default=False)
    timezone = TimeZoneField(default="UTC", choices_display="WITH_GMT_OFFSET")
    # The language of the pages (UserLanguageMiddleware) and of every email and notification sent to the user
    # (marketplace.i18n.recipient_locale).
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="en")

    class RefundTo(models.TextChoices):
        CREDIT = "credit", _("My site credit (used first when I fund milestones)")
        CARD = "card", _("Back to the card I paid with")

    refund_to = models.CharField(
        _("when money is refunded to me, send it to"),
        max_length=8,
        choices=RefundTo.choices,
        default=RefundTo.CREDIT,
    )

    # The terms of service accepted at sign-up: their version (settings.TERMS_VERSION) and when.
    terms_version = models.CharField("terms of service version accepted", max_length=32, blank=True)
    terms_accepted_at = models.DateTimeField("terms of service accepted at", null=True, blank=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    objects = EmailUserManager()
    # Who changed the email, name, roles, refund destination or permissions, when and from what: staff see it in
    # the admin ("History"). Password hashes and login times are left out.
    history = HistoricalRecords(excluded_fields=["password", "last_login"])

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return f"{self.name} <{self.email}>"

    def get_full_name(self):
        return self.name

    def get_short_name(self):
        return self.name.split(" ")[0] if self.name else self.email

    @property
    def roles_label(self):
        if self.wants_to_hire and self.wants_to_work:
            return _("Client and freelancer")
        if self.wants_to_work:
            return _("Freelancer")
        if self.wants_to_hire:
            return _("Client")
        return _("Member")


class Profile(models.Model):
    """What a freelancer shows in the directory. Created lazily: a user may have no Profile row.

    "Member since" and the timezone come from the user (`date_joined`, `timezone`); they are not copied here.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    headline = models.CharField(max_length=120, blank=True)
    bio = models.TextField(blank=True)  # at most 5000 characters, enforced by ProfileForm
    location = models.CharField(max_length=100, blank=True)
    skills = TaggableManager(_("skills"), blank=True, help_text=_("Comma-separated, e.g. python, django, copywriting"))
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    def __str__(self):
        return f"Profile of {self.user.name}"


class Heartbeat(models.Model):
    """The last time a periodic job actually ran in a worker (written when its task succeeds), so /readyz
    can tell that beat and a worker are alive: a stopped beat shows as a heartbeat that is getting old."""

    name = models.CharField(max_length=100, unique=True)
    last_seen = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.last_seen:%Y-%m-%d %H:%M:%S}"
