from django.urls import path

from . import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="job_list"),
    path("new/", views.job_create, name="job_create"),
    path("saved/", views.saved_searches, name="saved_searches"),
    path("saved/<int:search_id>/delete/", views.saved_search_delete, name="saved_search_delete"),
    path("invite/", views.invite, name="invite"),
    path("invitations/<int:invitation_id>/decline/", views.invitation_decline, name="invitation_decline"),
    path("<int:job_id>/", views.job_detail, name="job_detail"),
    path("<int:job_id>/edit/", views.job_edit, name="job_edit"),
    path("<int:job_id>/publish/", views.job_publish, name="job_publish"),
    path("<int:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("<int:job_id>/files/<int:file_id>/", views.job_file, name="job_file"),
    path("<int:job_id>/propose/", views.proposal_create, name="proposal_create"),
    path("proposals/<int:proposal_id>/", views.proposal_detail, name="proposal_detail"),
    path("proposals/<int:proposal_id>/edit/", views.proposal_edit, name="proposal_edit"),
    path("proposals/<int:proposal_id>/withdraw/", views.proposal_withdraw, name="proposal_withdraw"),
    path("proposals/<int:proposal_id>/shortlist/", views.proposal_shortlist, name="proposal_shortlist"),
    path("proposals/<int:proposal_id>/archive/", views.proposal_archive, name="proposal_archive"),
    path("proposals/<int:proposal_id>/restore/", views.proposal_restore, name="proposal_restore"),
    path("proposals/<int:proposal_id>/message/", views.proposal_message, name="proposal_message"),
    path("proposals/<int:proposal_id>/hire/", views.proposal_hire, name="proposal_hire"),
    path("proposals/<int:proposal_id>/files/<int:file_id>/", views.proposal_file, name="proposal_file"),
]
