from django.utils import timezone


class UserTimezoneMiddleware:
    """Show every date and time in the logged-in user's own timezone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.timezone:
            timezone.activate(user.timezone)  # a ZoneInfo (django-timezone-field)
        else:
            timezone.deactivate()
        return self.get_response(request)
