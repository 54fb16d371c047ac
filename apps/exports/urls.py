"""Zip exports, mounted at /library/exports/."""

from django.urls import path

from . import views

app_name = "exports"

urlpatterns = [
    path("", views.create, name="create"),
    path("<public_id:public_id>/", views.detail, name="detail"),
    path("<public_id:public_id>/download/", views.download, name="download"),
]
