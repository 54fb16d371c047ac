from django.urls import path

from . import views

app_name = "uploads"

urlpatterns = [
    path("", views.uploads, name="uploads"),
    path("<public_id:token>/sign/", views.sign, name="sign"),
    path("<public_id:token>/parts/", views.uploaded_parts, name="parts"),
    path("<public_id:token>/complete/", views.complete, name="complete"),
    path("<public_id:token>/", views.cancel, name="cancel"),
]
