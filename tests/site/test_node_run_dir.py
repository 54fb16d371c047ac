"""A web node's run directory and gunicorn's environment (apps/ops/node.py), without
starting nginx or gunicorn."""

from apps.ops.node import Node


def test_gunicorn_is_told_the_run_dirs_drain_file(tmp_path, monkeypatch):
    monkeypatch.delenv("STRATUS_DRAIN_FILE", raising=False)
    node = Node(8000, run_dir=tmp_path)
    assert node.gunicorn_env()["STRATUS_DRAIN_FILE"] == str(tmp_path / "draining")


def test_a_drain_file_set_in_the_environment_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("STRATUS_DRAIN_FILE", "/run/stratus/draining")
    node = Node(8000, run_dir=tmp_path)
    assert node.gunicorn_env()["STRATUS_DRAIN_FILE"] == "/run/stratus/draining"


def test_a_stale_drain_file_in_a_reused_run_dir_is_removed(tmp_path):
    (tmp_path / "draining").touch()
    Node(8000, run_dir=tmp_path).make_run_dir()
    assert not (tmp_path / "draining").exists()
