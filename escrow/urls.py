from django.urls import path

from . import views

app_name = "escrow"

urlpatterns = [
    path("", views.wallet, name="wallet"),
    path("withdraw/", views.withdraw, name="withdraw"),
    path("statement.csv", views.statement_csv, name="statement_csv"),
]
