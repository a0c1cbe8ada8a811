from django.urls import path

from . import views, webhooks

app_name = "escrow"

urlpatterns = [
    path("", views.wallet, name="wallet"),
    path("withdraw/", views.withdraw, name="withdraw"),
    path("statement.csv", views.statement_csv, name="statement_csv"),
    path("payments/<int:intent_id>/return/", views.payment_return, name="payment_return"),
    path("payments/<int:intent_id>/", views.payment_status, name="payment_status"),
    path("payments/<int:intent_id>/cancel/", views.payment_cancel, name="payment_cancel"),
    path("payout-account/", views.payout_account_setup, name="payout_account"),
    path("payout-account/return/", views.payout_account_return, name="payout_account_return"),
    path("webhooks/<str:provider>/", webhooks.webhook, name="webhook"),
]
