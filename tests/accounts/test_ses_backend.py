"""The production mail backend: django-ses's, on the shared SES v2 client from
storage_backends.aws, sending through the local stack's SES (moto) over real HTTP."""

import pytest
from django.core import mail

from storage_backends import aws
from storage_backends.ses import SESBackend

SENDER = "stratus@example.com"


@pytest.fixture
def ses(settings):
    """The local SES with SENDER verified (SES refuses unverified senders)."""
    settings.MAILERS = {"default": {"BACKEND": "storage_backends.ses.SESBackend"}}
    settings.DEFAULT_FROM_EMAIL = SENDER
    client = aws.client("sesv2")
    client.create_email_identity(EmailIdentity=SENDER)
    return client


def sent_count(settings):
    """How many mails the local SES has sent: its send quota counts them (SES v1's call:
    the local SES has no v2 GetAccount)."""
    settings.AWS_ENDPOINT_URLS = {**settings.AWS_ENDPOINT_URLS,
                                  "ses": settings.AWS_ENDPOINT_URLS["sesv2"]}
    return int(aws.client("ses").get_send_quota()["SentLast24Hours"])


def test_the_backend_uses_the_shared_client():
    backend = SESBackend()

    assert backend.open() is True
    assert backend.connection is aws.client("sesv2")
    backend.close()
    assert backend.connection is None


def test_a_mail_is_sent_through_ses(ses, settings):
    before = sent_count(settings)

    assert mail.send_mail("Hello", "Body", None, ["alice@example.com"]) == 1

    # The local SES counts a raw mail's recipient once per place it is named (the
    # destination and the To header): more sent is what this test can see.
    assert sent_count(settings) > before


def test_ses_region_setting_gives_the_client_that_region(settings):
    settings.SES_REGION = "eu-west-1"

    backend = SESBackend()
    backend.open()

    assert backend.connection.meta.region_name == "eu-west-1"
