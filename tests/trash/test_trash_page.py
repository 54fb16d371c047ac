"""The trash page: deleted files listed, restored, or emptied; kept STRATUS_TRASH_DAYS days."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.library.models import File
from tests.library.helpers import object_exists

pytestmark = pytest.mark.django_db

TRASH = reverse("trash:list")


def restore_url(file):
    return reverse("trash:restore", args=[file.public_id])


def test_the_trash_lists_a_deleted_file(user_client, trashed_file):
    response = user_client.get(TRASH)
    assert list(response.context["page_obj"].object_list) == [trashed_file]
    assert trashed_file.original_name.encode() in response.content


def test_the_trash_says_when_a_file_goes_for_good(user_client, trashed_file, settings):
    settings.STRATUS_TRASH_DAYS = 30
    [listed] = user_client.get(TRASH).context["page_obj"].object_list
    assert listed.purge_at == trashed_file.deleted_at + timedelta(days=30)


def test_the_trash_says_when_it_is_empty(user_client, stored_file):
    assert b"The trash is empty." in user_client.get(TRASH).content


def test_the_trash_shows_no_one_elses_files(other_client, trashed_file):
    assert not other_client.get(TRASH).context["page_obj"].object_list


def test_the_trash_needs_a_log_in(client):
    assert "/accounts/login/" in client.get(TRASH).url


def test_a_file_past_the_limit_is_not_listed(user_client, trashed_file, settings):
    File.objects.filter(pk=trashed_file.pk).update(
        deleted_at=timezone.now() - timedelta(days=settings.STRATUS_TRASH_DAYS, seconds=1))
    assert not user_client.get(TRASH).context["page_obj"].object_list


def test_restoring_puts_the_file_back_in_the_library(user_client, trashed_file):
    response = user_client.post(restore_url(trashed_file), follow=True)
    assert f"Restored {trashed_file}." in [str(m) for m in response.context["messages"]]
    assert File.objects.get(pk=trashed_file.pk).deleted_at is None
    assert user_client.get(trashed_file.get_absolute_url()).status_code == 200


def test_restoring_needs_a_post(user_client, trashed_file):
    assert user_client.get(restore_url(trashed_file)).status_code == 405


def test_no_one_else_can_restore_a_file(other_client, trashed_file):
    response = other_client.post(restore_url(trashed_file), follow=True)
    assert "That file is no longer in the trash." in [
        str(m) for m in response.context["messages"]]
    assert File.objects.get(pk=trashed_file.pk).deleted_at is not None


def test_a_file_past_the_limit_cannot_be_restored(user_client, trashed_file, settings):
    past = timezone.now() - timedelta(days=settings.STRATUS_TRASH_DAYS, seconds=1)
    File.objects.filter(pk=trashed_file.pk).update(deleted_at=past)
    user_client.post(restore_url(trashed_file))
    assert File.objects.get(pk=trashed_file.pk).deleted_at == past


def test_emptying_asks_for_confirmation_first(user_client, trashed_file):
    response = user_client.get(reverse("trash:empty"))
    assert b"1 file will be deleted for good" in response.content
    assert File.objects.get(pk=trashed_file.pk).deleted_at > timezone.now() - timedelta(days=1)


def test_emptying_takes_the_files_off_the_trash_page_at_once(user_client, trashed_file):
    response = user_client.post(reverse("trash:empty"), follow=True)
    assert "Emptied the trash: 1 file(s) deleted for good." in [
        str(m) for m in response.context["messages"]]
    assert not response.context["page_obj"].object_list


def test_emptying_leaves_the_library_alone(user_client, trashed_file, django_user_model):
    from tests.library.helpers import upload

    upload(user_client, "kept.txt", b"kept\n")
    user_client.post(reverse("trash:empty"))
    assert File.objects.live().get().original_name == "kept.txt"


@pytest.mark.django_db(transaction=True)  # the worker's threads read committed rows
def test_emptying_purges_through_the_task(tasks, run_worker, user_client, trashed_file, s3):
    user_client.post(reverse("trash:empty"))
    run_worker()
    assert not File.objects.filter(pk=trashed_file.pk).exists()
    assert not object_exists(s3, trashed_file.file.name)


def test_the_header_links_to_the_trash(user_client, stored_file):
    assert f'href="{TRASH}"'.encode() in user_client.get(reverse("library:list")).content
