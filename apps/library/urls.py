from django.http import HttpResponse
from django.urls import path

app_name = "library"

urlpatterns = [
    path("", lambda request: HttpResponse("library"), name="list"),
    path("upload/", lambda request: HttpResponse("upload"), name="upload"),
]
