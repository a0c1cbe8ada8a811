from django.urls import path

from . import views

app_name = "sandbox"

urlpatterns = [
    path("checkout/<str:checkout_id>/", views.checkout_page, name="checkout"),
    path("checkout/<str:checkout_id>/challenge/", views.challenge_answer, name="challenge"),
    path("connect/<str:account_id>/", views.onboarding_page, name="onboarding"),
]
