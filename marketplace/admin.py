from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from simple_history.admin import SimpleHistoryAdmin

from .models import Profile, User


@admin.register(User)
class UserAdmin(SimpleHistoryAdmin, BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "wants_to_hire", "wants_to_work", "is_staff", "date_joined"]
    list_filter = ["wants_to_hire", "wants_to_work", "is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "name"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["name", "wants_to_hire", "wants_to_work", "timezone", "refund_to"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "name", "password1", "password2"]}),
    ]


@admin.register(Profile)
class ProfileAdmin(SimpleHistoryAdmin):
    list_display = ["user", "headline", "location", "skill_list", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__email", "user__name", "headline"]
    list_filter = ["user__wants_to_work"]
    autocomplete_fields = ["user"]
    readonly_fields = ["updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("skills")

    @admin.display(description="skills")
    def skill_list(self, profile):
        return ", ".join(tag.name for tag in profile.skills.all())
