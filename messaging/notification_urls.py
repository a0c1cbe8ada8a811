from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("read-all/", views.notifications_read_all, name="read_all"),
    path("preferences/", views.email_preferences, name="preferences"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("<int:notification_id>/open/", views.notification_open, name="open"),
]
