"""The trash, mounted at /library/trash/."""

from django.urls import path

from . import views

app_name = "trash"

urlpatterns = [
    path("", views.trash, name="list"),
    path("empty/", views.empty, name="empty"),
    path("<public_id:public_id>/restore/", views.restore, name="restore"),
]
