from django.urls import path

from . import views

app_name = "contracts"

urlpatterns = [
    path("offers/new/", views.offer_create, name="offer_create"),
]
