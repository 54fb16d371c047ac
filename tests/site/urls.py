"""URLs for the site tests: the project's, plus views that fail in chosen ways."""

import logging

from botocore.exceptions import EndpointConnectionError
from django.http import HttpResponse
from django.urls import path

from project.urls import handler500  # noqa: F401  (the site's own error handling)
from project.urls import urlpatterns as project_urlpatterns


def crash(request):
    raise ValueError("a bug")


def aws_down(request):
    raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9/")


def log_something(request):
    logging.getLogger("tests.site").info("something happened")
    return HttpResponse("logged")


urlpatterns = project_urlpatterns + [
    path("test/crash", crash),
    path("test/aws-down", aws_down),
    path("test/log", log_something),
    path("test/unavailable-after-view", lambda request: HttpResponse("fine")),
]


class FailingResponseMiddleware:
    """Stands for a middleware (the session engine) whose service fails after the view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path == "/test/unavailable-after-view":
            from storage_backends.simpledb.client import Unavailable
            raise Unavailable("SimpleDB went away")
        return response
