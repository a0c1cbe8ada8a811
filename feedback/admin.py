"""Staff read feedback (the private notes included) and the windows; nothing here changes either."""

from django.contrib import admin

from contracts.admin import ReadOnlyAdminMixin, ReadOnlyInline

from .models import Feedback, FeedbackWindow, FreelancerRating


class FeedbackInline(ReadOnlyInline):
    model = Feedback
    fields = ["role", "author", "rating", "scores", "comment", "private_note", "created_at"]
    readonly_fields = fields
    show_change_link = False


@admin.register(FeedbackWindow)
class FeedbackWindowAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["contract", "opens_at", "closes_at", "published_at"]
    list_filter = [("published_at", admin.EmptyFieldListFilter)]
    search_fields = ["contract__title", "contract__client__email", "contract__freelancer__email"]
    list_select_related = ["contract"]
    readonly_fields = ["contract", "opens_at", "closes_at", "reminded_day1_at", "reminded_day10_at", "published_at"]
    inlines = [FeedbackInline]


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "window", "role", "author", "subject", "rating", "has_private_note", "created_at"]
    list_filter = ["role", "rating"]
    search_fields = ["author__email", "subject__email", "comment", "private_note", "window__contract__title"]
    list_select_related = ["window__contract", "author", "subject"]
    readonly_fields = ["window", "role", "author", "subject", "scores", "rating", "comment", "private_note"]

    @admin.display(boolean=True, description="Private note")
    def has_private_note(self, obj):
        return bool(obj.private_note)


@admin.register(FreelancerRating)
class FreelancerRatingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["user", "average", "count", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__email", "user__name"]
    ordering = ["-average", "-count"]
