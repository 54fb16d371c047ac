"""Zip exports in the admin: listed read-only; deleting one deletes its zip from S3."""

import pytest
from django.urls import reverse

from apps.exports.models import ZipExport
from tests.exports.test_zip import export, upload_all
from tests.library.helpers import object_exists

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def built_export(user_client, tasks, run_worker):
    export(user_client, upload_all(user_client, {"a.txt": b"a"}))
    run_worker()
    return ZipExport.objects.get()


def test_the_list_and_the_detail_page_show_an_export(admin_client, built_export):
    listing = admin_client.get(reverse("admin:exports_zipexport_changelist"))
    assert listing.status_code == 200
    assert built_export.public_id.encode() in listing.content
    detail = admin_client.get(reverse("admin:exports_zipexport_change",
                                      args=[built_export.pk]))
    assert detail.status_code == 200
    assert b"Save" not in detail.content  # read-only


def test_deleting_an_export_in_the_admin_deletes_its_zip(admin_client, built_export, s3):
    assert object_exists(s3, built_export.key)
    response = admin_client.post(reverse("admin:exports_zipexport_changelist"), {
        "action": "delete_selected", "_selected_action": [built_export.pk], "post": "yes"})
    assert response.status_code == 302
    assert not ZipExport.objects.exists()
    assert not object_exists(s3, built_export.key)
