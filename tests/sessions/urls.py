"""Views for request-cycle tests of the session engine (ROOT_URLCONF in those tests only)."""

from importlib import import_module

from django.conf import settings
from django.http import HttpResponse
from django.urls import path


def read(request):
    """Reads the session, changes nothing."""
    return HttpResponse(str(request.session.get("n")))


def write(request):
    """Counts visits in the session."""
    request.session["n"] = request.session.get("n", 0) + 1
    return HttpResponse(str(request.session["n"]))


def write_after_concurrent_logout(request):
    """Loads the session, which another request then deletes, and changes it."""
    count = request.session.get("n", 0)
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore(request.session.session_key).delete()
    request.session["n"] = count + 1
    return HttpResponse("changed")


urlpatterns = [
    path("read/", read),
    path("write/", write),
    path("write-after-logout/", write_after_concurrent_logout),
]
