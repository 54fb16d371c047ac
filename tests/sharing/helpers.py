"""Helpers for the share links' tests."""

from django.urls import reverse


def shared_url(token):
    return reverse("sharing:shared", args=[token])


def shares_url(file):
    return reverse("sharing_owner:shares", args=[file.public_id])


def create(client, file, **fields):
    """POST the new-link form with `fields` (7 days by default): the response."""
    return client.post(shares_url(file), {"expires_in": "7d", **fields})


def new_token(response):
    """The token of the link a create response shows."""
    return response.context["new_link_url"].rstrip("/").rsplit("/", 1)[1]
