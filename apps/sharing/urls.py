"""The owner's share links, under a file's library URL (mounted at /library/)."""

from django.urls import path

from . import views

app_name = "sharing_owner"

urlpatterns = [
    path("<public_id:public_id>/shares/", views.shares, name="shares"),
    path("<public_id:public_id>/shares/<public_id:link_id>/revoke/", views.revoke,
         name="revoke"),
]
