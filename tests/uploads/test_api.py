"""The direct-upload API: a file goes from the client straight to S3, the node signs, checks
and records. Real S3 (the local stack) over real HTTP; the API over Django's test client."""

import base64
import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from apps.library.models import File
from apps.uploads.checks import check_upload_limits
from apps.uploads.models import PendingUpload

from tests.library.test_unavailable import take_s3_down  # noqa: F401

from .conftest import MIB
from .direct import call, complete, create, post_form, send_parts, sign, upload

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


def issued(response, status=201):
    assert response.status_code == status, response.content
    return json.loads(response.content)


def test_a_small_file_is_posted_to_s3_and_published(user_client, user, s3, settings):
    response = upload(user_client, "pixel.png", PNG, title="A pixel")
    assert response.status_code == 201, response.content
    file = File.objects.get(public_id=json.loads(response.content)["file"])
    assert (file.owner, file.title, file.size) == (user, "A pixel", len(PNG))
    assert file.content_type == "image/png"  # decided from the stored bytes
    stored = s3.get_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=file.file.name)
    assert stored["Body"].read() == PNG
    assert not PendingUpload.objects.exists()


def test_the_post_policy_names_the_exact_key_size_and_encryption(user_client):
    answer = issued(create(user_client, "notes.txt", 42))
    policy = json.loads(base64.b64decode(answer["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"key": answer["key"]} in conditions
    assert ["content-length-range", 42, 42] in conditions
    assert {"x-amz-server-side-encryption": "AES256"} in conditions
    assert answer["key"].startswith("uploads/") and answer["key"].endswith("/notes.txt")


def test_a_file_over_the_limit_is_refused_before_any_byte_is_sent(user_client, settings):
    settings.STRATUS_UPLOAD_MAX_BYTES = 1000
    answer = issued(create(user_client, "big.bin", 1001), status=400)
    assert answer["code"] == "too_big"
    assert "at most 1000\xa0bytes" in answer["error"]
    assert not PendingUpload.objects.exists()


@pytest.mark.parametrize("body", [
    {"name": "x", "size": "10"}, {"name": "x", "size": True}, {"name": "", "size": 10},
    {"name": "x" * 2000, "size": 10}, {"size": 10}, {"name": "x", "size": -1},
])
def test_a_malformed_request_is_refused_with_a_message(user_client, body):
    answer = issued(call(user_client, "post", reverse("uploads:uploads"), body), status=400)
    assert answer["error"]


def test_a_body_that_is_not_a_json_object_is_refused(user_client):
    for raw in (b"[1, 2]", b"{", b"[" * 100_000):
        response = user_client.post(reverse("uploads:uploads"), raw,
                                    content_type="application/json")
        assert response.status_code == 400


def test_an_empty_file_is_refused(user_client):
    assert issued(create(user_client, "empty.txt", 0), status=400)["code"] == "empty"


def test_a_big_file_goes_in_parts_and_is_published(user_client, s3, settings,
                                                   multipart_everything):
    data = bytes(range(256)) * (9 * MIB // 256)  # two parts: 8 MiB and 1 MiB
    response = upload(user_client, "big.bin", data)
    assert response.status_code == 201, response.content
    file = File.objects.get(public_id=json.loads(response.content)["file"])
    head = s3.head_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=file.file.name)
    assert head["ContentLength"] == len(data) == file.size
    assert head["ServerSideEncryption"] == "AES256"


def test_parts_are_signed_compactly(user_client, multipart_everything):
    answer = issued(create(user_client, "big.bin", 20 * MIB))
    assert (answer["partSize"], answer["parts"]) == (8 * MIB, 3)
    signed = json.loads(sign(user_client, answer["upload"], [1, 2, 3]).content)
    assert signed["query"]["uploadId"] == answer["uploadId"]
    assert {part["partNumber"] for part in signed["parts"].values()} == {"1", "2", "3"}
    assert all(len(part) <= 3 for part in signed["parts"].values())


@pytest.mark.parametrize("numbers", [[0], [4], ["1"], [], list(range(1, 102)), "1"])
def test_signing_parts_outside_the_upload_is_refused(user_client, numbers,
                                                     multipart_everything):
    answer = issued(create(user_client, "big.bin", 20 * MIB))
    assert sign(user_client, answer["upload"], numbers).status_code == 400


def test_the_same_file_chosen_again_resumes_its_upload(user_client, multipart_everything):
    data = b"r" * (17 * MIB)
    first = issued(create(user_client, "film.mov", len(data), fingerprint="film.mov/17/123"))
    send_parts(user_client, first, data, numbers=[1])
    again = issued(create(user_client, "film.mov", len(data), fingerprint="film.mov/17/123"),
                   status=200)
    assert (again["upload"], again["uploadId"], again["resumed"]) == (
        first["upload"], first["uploadId"], True)
    listed = json.loads(user_client.get(reverse("uploads:parts", args=[first["upload"]])).content)
    assert [(p["PartNumber"], p["Size"]) for p in listed["parts"]] == [(1, 8 * MIB)]
    send_parts(user_client, again, data, numbers=[2, 3])
    assert complete(user_client, again["upload"]).status_code == 201


def test_completing_before_every_part_arrived_keeps_the_upload(user_client,
                                                               multipart_everything):
    data = b"p" * (9 * MIB)
    answer = issued(create(user_client, "half.bin", len(data)))
    send_parts(user_client, answer, data, numbers=[1])
    refused = issued(complete(user_client, answer["upload"]), status=409)
    assert refused["code"] == "incomplete"
    assert PendingUpload.objects.filter(token=answer["upload"]).exists()


def test_an_object_other_than_announced_is_deleted_and_the_user_told(user_client, s3,
                                                                      settings):
    answer = issued(create(user_client, "liar.txt", 10))
    post_form(answer, b"twenty bytes, not 10")  # moto does not enforce the policy; we do
    refused = issued(complete(user_client, answer["upload"]), status=400)
    assert refused["code"] == "size_mismatch" and "20\xa0bytes" in refused["error"]
    listed = s3.list_objects_v2(Bucket=settings.STRATUS_MEDIA_BUCKET, Prefix=answer["key"])
    assert listed.get("KeyCount") == 0
    assert not File.objects.exists() and not PendingUpload.objects.exists()


def test_parts_adding_up_to_more_than_announced_are_discarded(user_client, s3, settings,
                                                              multipart_everything):
    answer = issued(create(user_client, "grown.bin", 9 * MIB))
    send_parts(user_client, answer, b"g" * (16 * MIB))  # two full 8 MiB parts
    assert issued(complete(user_client, answer["upload"]), status=400)["code"] == "size_mismatch"
    uploads = s3.list_multipart_uploads(Bucket=settings.STRATUS_MEDIA_BUCKET,
                                        Prefix=answer["key"])
    assert not uploads.get("Uploads")


def test_a_completion_for_another_users_upload_is_refused(user_client, other_client):
    answer = issued(create(user_client, "mine.txt", 5))
    post_form(answer, b"mine!")
    assert complete(other_client, answer["upload"]).status_code == 404
    assert complete(other_client, answer["upload"], key=answer["key"]).status_code == 404
    assert not File.objects.exists()


def test_a_completion_naming_a_key_not_issued_is_refused(user_client):
    answer = issued(create(user_client, "mine.txt", 5))
    post_form(answer, b"mine!")
    forged = complete(user_client, answer["upload"], key="uploads/someone-elses/file.txt")
    assert forged.status_code == 403
    assert not File.objects.exists()


def test_completing_twice_publishes_once(user_client):
    answer = issued(create(user_client, "once.txt", 4))
    post_form(answer, b"once")
    first = issued(complete(user_client, answer["upload"], key=answer["key"]))
    again = issued(complete(user_client, answer["upload"], key=answer["key"]), status=200)
    assert again["file"] == first["file"] and File.objects.count() == 1


def test_completing_before_the_object_arrived_keeps_the_upload(user_client):
    answer = issued(create(user_client, "later.txt", 4))
    assert issued(complete(user_client, answer["upload"]), status=409)["code"] == "missing"
    assert PendingUpload.objects.exists()


def test_cancelling_aborts_the_parts_and_forgets_the_upload(user_client, s3, settings,
                                                            multipart_everything):
    answer = issued(create(user_client, "gone.bin", 9 * MIB))
    response = call(user_client, "delete", reverse("uploads:cancel", args=[answer["upload"]]))
    assert response.status_code == 204
    uploads = s3.list_multipart_uploads(Bucket=settings.STRATUS_MEDIA_BUCKET,
                                        Prefix=answer["key"])
    assert not uploads.get("Uploads") and not PendingUpload.objects.exists()


def test_a_user_cannot_hold_unlimited_unfinished_uploads(user_client, settings):
    settings.STRATUS_UPLOAD_PENDING_MAX = 2
    for _ in range(2):
        issued(create(user_client, "a.txt", 1))
    assert issued(create(user_client, "a.txt", 1), status=429)["code"] == "too_many"


def test_only_an_operator_may_upload_for_someone_else(user_client, other_user):
    refused = issued(create(user_client, "a.txt", 1, owner=other_user.username), status=400)
    assert "operator" in refused["error"]


def test_the_api_needs_a_logged_in_user(client):
    assert create(client, "a.txt", 1).status_code == 302


def test_clearuploads_aborts_and_forgets_uploads_older_than_the_expiry(
        user_client, s3, settings, multipart_everything):
    old = issued(create(user_client, "old.bin", 9 * MIB))
    fresh = issued(create(user_client, "fresh.bin", 9 * MIB))
    PendingUpload.objects.filter(token=old["upload"]).update(
        created_at=timezone.now() - timedelta(seconds=settings.STRATUS_UPLOAD_PENDING_EXPIRY + 1))
    call_command("clearuploads", stdout=io.StringIO())
    assert list(PendingUpload.objects.values_list("token", flat=True)) == [fresh["upload"]]
    uploads = s3.list_multipart_uploads(Bucket=settings.STRATUS_MEDIA_BUCKET,
                                        Prefix=old["key"])
    assert not uploads.get("Uploads")


def test_the_first_parts_come_signed_with_the_issue(user_client, multipart_everything):
    answer = issued(create(user_client, "big.bin", 20 * MIB))
    assert sorted(answer["signed"]["parts"], key=int) == ["1", "2", "3"]
    assert answer["signed"]["query"]["uploadId"] == answer["uploadId"]


def test_a_completion_while_s3_still_joins_says_to_try_again(user_client, s3, settings,
                                                             multipart_everything):
    data = b"j" * (9 * MIB)
    answer = issued(create(user_client, "slow.bin", len(data)))
    send_parts(user_client, answer, data)
    # S3 has joined the parts (an earlier call's work) but shows no object yet.
    parts = s3.list_parts(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=answer["key"],
                          UploadId=answer["uploadId"])["Parts"]
    s3.complete_multipart_upload(
        Bucket=settings.STRATUS_MEDIA_BUCKET, Key=answer["key"], UploadId=answer["uploadId"],
        MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]}
                                   for p in parts]})
    s3.delete_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=answer["key"])
    refused = issued(complete(user_client, answer["upload"]), status=409)
    assert refused["code"] == "joining" and PendingUpload.objects.exists()


def test_an_operator_uploads_for_a_user_named_by_username(client, other_user,
                                                          django_user_model):
    operator = django_user_model.objects.create_superuser("operator")
    client.force_login(operator)
    response = upload(client, "for-bob.txt", b"hello bob", owner=other_user.username)
    assert response.status_code == 201, response.content
    assert File.objects.get().owner == other_user
    refused = issued(create(client, "a.txt", 1, owner="nobody-at-all"), status=400)
    assert "nobody-at-all" in refused["error"]


def test_with_s3_down_the_uploader_is_told_so_in_json_and_nothing_is_kept(
        user_client, take_s3_down, multipart_everything):
    take_s3_down()
    response = create(user_client, "big.bin", 9 * MIB)
    assert response.status_code == 503
    assert json.loads(response.content)["code"] == "unavailable"
    assert not PendingUpload.objects.exists()


def test_discarding_from_the_page_without_javascript_forgets_the_upload(
        user_client, multipart_everything):
    answer = issued(create(user_client, "left.bin", 9 * MIB))
    page = user_client.get(reverse("library:upload")).content.decode()
    assert "left.bin" in page and "Unfinished uploads" in page
    response = user_client.post(reverse("uploads:cancel", args=[answer["upload"]]))
    assert response.status_code == 302 and response["Location"] == reverse("library:upload")
    assert not PendingUpload.objects.exists()


def test_a_multipart_threshold_over_one_posts_maximum_fails_the_checks(settings):
    settings.STRATUS_UPLOAD_MULTIPART_THRESHOLD = 6 * 1000**3
    assert [error.id for error in check_upload_limits(None)] == ["uploads.E001"]
    settings.STRATUS_UPLOAD_MULTIPART_THRESHOLD = 16 * MIB
    settings.STRATUS_UPLOAD_MAX_BYTES = 6 * 1024**4
    assert [error.id for error in check_upload_limits(None)] == ["uploads.E002"]
