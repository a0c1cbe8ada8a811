from django.urls import path

from . import views

app_name = "messaging"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("badges/", views.unread_badges, name="badges"),
    path("files/<int:attachment_id>/", views.attachment_download, name="attachment"),
    path("<int:thread_id>/", views.thread_detail, name="thread"),
    path("<int:thread_id>/send/", views.message_send, name="send"),
    path("<int:thread_id>/poll/", views.thread_poll, name="poll"),
    path("<int:thread_id>/earlier/", views.thread_earlier, name="earlier"),
]
