"""The embedded PostgreSQL runs with its own settings from the first start on, and keeps running."""

import os

import psycopg
import pytest

from config import embedded

pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="DATABASE_URL names a real server")


def _settings(url):
    with psycopg.connect(url) as conn:
        names = list(embedded.server_settings())
        return {name: conn.execute("SELECT current_setting(%s)", [name]).fetchone()[0] for name in names}


def _postmaster_pid(var_dir):
    return int((embedded._pgdata(var_dir) / "postmaster.pid").read_text().split()[0])


def test_a_new_data_folder_starts_with_the_settings_and_is_not_restarted_again(tmp_path):
    try:
        url = embedded.ensure_postgres(tmp_path, "settings_check")
        first_pid = _postmaster_pid(tmp_path)
        again = embedded.ensure_postgres(tmp_path, "settings_check")
        second_pid = _postmaster_pid(tmp_path)
        settings = _settings(again)
    finally:
        embedded.stop_postgres(tmp_path)
    assert again == url
    assert second_pid == first_pid
    assert settings["io_method"] == "sync"
    assert settings["shared_buffers"] == _pretty(embedded.shared_buffers_mb())


def _pretty(megabytes):
    return f"{megabytes // 1024}GB" if megabytes % 1024 == 0 else f"{megabytes}MB"


def test_shared_buffers_stay_between_initdbs_default_and_a_gigabyte():
    assert 128 <= embedded.shared_buffers_mb() <= 1024
