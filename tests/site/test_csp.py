"""Every response carries the site's Content-Security-Policy (Chromium checks the pages
themselves in tests/browser/test_csp.py)."""

import re

import pytest
from django.test import Client

from .test_settings import PRODUCTION, setting

pytestmark = pytest.mark.django_db

HEADER = "Content-Security-Policy"


def directives(response):
    """The response's policy as {directive: [values]}."""
    policy = {}
    for part in response[HEADER].split(";"):
        name, *values = part.split()
        policy[name] = values
    return policy


@pytest.fixture
def admin_client(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root"))
    return client


@pytest.mark.parametrize("path, status", [
    ("/accounts/login/", 200),
    ("/no/such/page", 404),
    ("/healthz", 200),
    ("/readyz", 200),
    ("/favicon.ico", 200),
    ("/static/stratus.css", 200),
    ("/library/", 302),
])
def test_every_response_carries_the_policy(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert "script-src" in directives(response)


@pytest.mark.urls("tests.site.urls")
def test_the_503_page_carries_the_policy(client):
    response = client.get("/test/aws-down")
    assert response.status_code == 503
    assert "script-src" in directives(response)


@pytest.mark.urls("tests.site.urls")
def test_the_500_page_carries_the_policy(client, settings):
    settings.DEBUG = False
    client.raise_request_exception = False
    response = client.get("/test/crash")
    assert response.status_code == 500
    assert "script-src" in directives(response)


@pytest.mark.urls("tests.site.urls")
def test_a_503_raised_by_a_middleware_carries_the_policy(client, settings):
    settings.DEBUG = False
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.site.urls.FailingResponseMiddleware"]
    client.raise_request_exception = False
    response = client.get("/test/unavailable-after-view")
    assert response.status_code == 503
    assert "script-src" in directives(response)


def test_the_400_page_carries_the_policy(client, settings):
    settings.DEBUG = False
    response = client.get("/healthz", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    assert "script-src" in directives(response)


def test_the_403_page_carries_the_policy():
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {})
    assert response.status_code == 403
    assert "script-src" in directives(response)


def test_admin_pages_carry_the_policy(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert "script-src" in directives(response)


def test_scripts_and_styles_are_never_unsafe_inline(client):
    policy = directives(client.get("/accounts/login/"))
    for directive in ("default-src", "script-src", "style-src"):
        assert "'unsafe-inline'" not in policy[directive]
        assert "'unsafe-eval'" not in policy[directive]


def test_everything_not_named_is_refused(client):
    policy = directives(client.get("/accounts/login/"))
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


def test_every_admin_script_and_style_tag_carries_the_responses_nonce(admin_client):
    response = admin_client.get("/admin/auth/user/add/")
    nonce = re.search(r"'nonce-([^']+)'", response[HEADER]).group(1)
    tags = re.findall(r"<(?:script|style)\b[^>]*>", response.content.decode())
    assert tags  # the form's constants, jsi18n, the admin's own scripts
    assert all(f'nonce="{nonce}"' in tag for tag in tags)


def test_each_response_has_its_own_nonce(admin_client):
    first = admin_client.get("/admin/")[HEADER]
    second = admin_client.get("/admin/")[HEADER]
    assert first != second


@pytest.mark.slow
def test_static_files_on_a_cdn_are_allowed_in_production():
    policy = setting("SECURE_CSP", **PRODUCTION)
    assert "https://cdn.example.com" in policy
