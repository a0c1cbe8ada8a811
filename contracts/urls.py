from django.urls import path

from . import views

app_name = "contracts"

urlpatterns = [
    path("offers/new/", views.offer_create, name="offer_create"),
    path("offers/<int:offer_id>/", views.offer_detail, name="offer_detail"),
    path("offers/<int:offer_id>/revisions/<int:number>/", views.offer_detail, name="offer_revision"),
    path("offers/<int:offer_id>/propose/", views.offer_propose, name="offer_propose"),
    path("offers/<int:offer_id>/accept/", views.offer_accept, name="offer_accept"),
    path("offers/<int:offer_id>/decline/", views.offer_decline, name="offer_decline"),
    path("offers/<int:offer_id>/withdraw/", views.offer_withdraw, name="offer_withdraw"),
    path("contracts/", views.contract_list, name="contract_list"),
    path("contracts/<int:contract_id>/", views.contract_detail, name="contract_detail"),
    path("contracts/<int:contract_id>/end/", views.contract_end, name="contract_end"),
    path("contracts/<int:contract_id>/quiet/", views.contract_quiet, name="contract_quiet"),
    path("contracts/<int:contract_id>/keep-open/", views.contract_keep_open, name="contract_keep_open"),
    path("contracts/<int:contract_id>/milestones/add/", views.milestone_add, name="milestone_add"),
    path("contracts/<int:contract_id>/fund/", views.milestones_fund, name="milestones_fund"),
    path(
        "contracts/<int:contract_id>/milestones/<int:milestone_id>/approve/",
        views.milestone_approve,
        name="milestone_approve",
    ),
    path(
        "contracts/<int:contract_id>/milestones/<int:milestone_id>/refund/",
        views.milestone_refund,
        name="milestone_refund",
    ),
    path(
        "contracts/<int:contract_id>/milestones/<int:milestone_id>/refund-request/",
        views.milestone_refund_request,
        name="milestone_refund_request",
    ),
    path(
        "contracts/<int:contract_id>/milestones/<int:milestone_id>/edit/", views.milestone_edit, name="milestone_edit"
    ),
    path(
        "contracts/<int:contract_id>/milestones/<int:milestone_id>/remove/",
        views.milestone_remove,
        name="milestone_remove",
    ),
    path(
        "contracts/<int:contract_id>/milestones/<int:milestone_id>/move/<str:direction>/",
        views.milestone_move,
        name="milestone_move",
    ),
    path("contracts/<int:contract_id>/milestones/<int:milestone_id>/", views.milestone_detail, name="milestone_detail"),
    path(
        "contracts/<int:contract_id>/milestones/<int:milestone_id>/submit/",
        views.milestone_submit,
        name="milestone_submit",
    ),
    path("contracts/<int:contract_id>/files/<int:file_id>/", views.submission_file, name="submission_file"),
    path(
        "contracts/<int:contract_id>/milestones/<int:milestone_id>/release-part/",
        views.milestone_release_part,
        name="milestone_release_part",
    ),
    path("contracts/<int:contract_id>/disputes/<int:dispute_id>/", views.dispute_detail, name="dispute_detail"),
    path(
        "contracts/<int:contract_id>/disputes/<int:dispute_id>/evidence/",
        views.dispute_evidence,
        name="dispute_evidence",
    ),
    path(
        "contracts/<int:contract_id>/disputes/<int:dispute_id>/propose/", views.dispute_propose, name="dispute_propose"
    ),
    path(
        "contracts/<int:contract_id>/disputes/<int:dispute_id>/proposals/<int:proposal_id>/<str:decision>/",
        views.dispute_proposal_answer,
        name="dispute_proposal_answer",
    ),
    path(
        "contracts/<int:contract_id>/disputes/<int:dispute_id>/withdraw/",
        views.dispute_withdraw,
        name="dispute_withdraw",
    ),
    path("contracts/<int:contract_id>/dispute-files/<int:file_id>/", views.dispute_file, name="dispute_file"),
    path(
        "contracts/<int:contract_id>/milestones/<int:milestone_id>/<str:name>/",
        views.milestone_action,
        name="milestone_action",
    ),
    path(
        "contracts/<int:contract_id>/changes/<int:change_id>/<str:decision>/",
        views.change_decide,
        name="change_decide",
    ),
]
