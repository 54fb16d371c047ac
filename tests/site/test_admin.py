"""The Django admin: operators' pages render."""

import pytest

pytestmark = pytest.mark.django_db


def test_admin_index_lists_users_and_files(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert b"Users" in response.content and b"Files" in response.content


def test_admin_user_changelist_and_change_page_render(admin_client, admin_user):
    assert admin_client.get("/admin/auth/user/").status_code == 200
    assert admin_client.get(f"/admin/auth/user/{admin_user.pk}/change/").status_code == 200


def test_admin_requires_staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("plain"))
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
