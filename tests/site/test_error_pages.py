"""The error pages, Django's and those the node's nginx serves, share the site's look."""

import pytest
from django.template.loader import render_to_string

from apps.ops.bodies import error_page_context

PAGES = ["400.html", "403.html", "404.html", "413.html", "500.html", "503.html"]


@pytest.mark.parametrize("page", PAGES)
def test_an_error_page_has_the_sites_header_and_stylesheet(page, settings):
    html = render_to_string(page, error_page_context())

    assert f'<link rel="stylesheet" href="{settings.STATIC_URL}stratus.css">' in html
    assert '<a class="brand" href="/">Stratus</a>' in html
    assert 'name="viewport"' in html


@pytest.mark.parametrize("page", PAGES)
def test_an_error_page_renders_without_the_static_storage(page, settings):
    # An S3 static storage would load its manifest over the network: an error page
    # (and a node starting while S3 is down) must not depend on it.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "tests.site.test_error_pages.UnreachableStorage"}}

    assert "Stratus" in render_to_string(page, error_page_context())


class UnreachableStorage:
    """A static storage that cannot even be made."""

    def __init__(self, *args, **kwargs):
        raise ConnectionError("the static storage was asked for")
