from django.urls import path

from . import views

app_name = "feedback"

urlpatterns = [
    path("contracts/<int:contract_id>/", views.contract_feedback, name="contract"),
]
