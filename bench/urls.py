from django.urls import include, path

from . import views

urlpatterns = [
    path("bench/ceiling/", views.ceiling, name="bench_ceiling"),
    path("", include("marketplace.urls")),
]
