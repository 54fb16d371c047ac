"""storage_backends.aws: one client per service and process, configured from settings."""

import os

import pytest

from storage_backends import aws


def test_client_is_made_once_per_service_and_shared():
    assert aws.client("sqs") is aws.client("sqs")
    assert aws.client("sqs") is not aws.client("s3")


def test_client_uses_the_configured_endpoint_region_retries_and_pool(settings):
    aws.reset()
    try:
        settings.AWS_RETRY_MODE = "adaptive"
        settings.AWS_MAX_ATTEMPTS = 7
        settings.AWS_MAX_POOL_CONNECTIONS = 13
        settings.AWS_CONNECT_TIMEOUT = 1.5
        settings.AWS_READ_TIMEOUT = 4.0
        sdb = aws.client("sdb")
        config = sdb.meta.config
        assert sdb.meta.endpoint_url == settings.AWS_ENDPOINT_URLS["sdb"]
        assert sdb.meta.region_name == settings.AWS_REGION
        assert config.retries == {"mode": "adaptive", "total_max_attempts": 7}
        assert config.max_pool_connections == 13
        assert (config.connect_timeout, config.read_timeout) == (1.5, 4.0)
    finally:
        aws.reset()


@pytest.mark.filterwarnings("ignore:This process:DeprecationWarning")
def test_a_forked_child_makes_its_own_client():
    parent = id(aws.client("sqs"))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got a new client, then leave at once
        os.write(write, b"new" if id(aws.client("sqs")) != parent else b"same")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 10) == b"new"


def test_media_storage_uses_the_same_endpoint_and_config():
    from django.core.files.storage import default_storage

    client = default_storage.connection.meta.client
    assert client.meta.endpoint_url == aws.endpoint_url("s3")
    assert client.meta.config.retries == aws.config("s3").retries
    assert client.meta.config.signature_version == "s3v4"


def test_clients_with_other_settings_are_shared_per_set_of_settings():
    quick = aws.client("s3", connect_timeout=1.0)
    assert aws.client("s3", connect_timeout=1.0) is quick
    assert quick is not aws.client("s3")
    assert quick.meta.config.connect_timeout == 1.0


def test_a_hook_on_one_client_does_not_reach_the_others_made_from_the_same_session():
    # All clients share one session (its loaded models); the request budget's hooks are
    # registered per client and must stay with it.
    heard = []
    quick, usual = aws.client("s3", connect_timeout=1.0), aws.client("s3")
    quick.meta.events.register("stratus-probe.s3", lambda **kwargs: heard.append(1))
    usual.meta.events.emit("stratus-probe.s3")
    assert heard == []
    quick.meta.events.emit("stratus-probe.s3")
    assert heard == [1]
