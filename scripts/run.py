"""`make run`: prepare the database, then run web, worker and beat until Ctrl-C.

With no DATABASE_URL / CELERY_BROKER_URL the embedded PostgreSQL and Redis start on the
first settings import and keep their data under var/; on Ctrl-C this script stops the web
server, the worker and beat, then those embedded servers, so nothing is left running.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
STOP_TIMEOUT_SECONDS = 20


def prepare():
    """Migrate, seed the taxonomy, create demo users, and seed demo incidents on an empty base."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from incidents.models import Incident

    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_taxonomy")
    # Users before the demo data: seed_demo labels as "analyst" and "analyst2", and would
    # otherwise create them without a password.
    print("Logins (kept in var/demo_logins.json):")
    call_command("create_demo_users")
    if not Incident.objects.exists() and settings.DEMO_SEED_COUNT:
        print(f"Empty database: seeding {settings.DEMO_SEED_COUNT} demo incidents…", flush=True)
        call_command("seed_demo", count=settings.DEMO_SEED_COUNT)
    # Train suggestion models as soon as the worker is up, not at beat's first sweep ten
    # minutes in; until then the analysts see the zero-shot suggestions.
    from labeling.tasks import sweep_suggestion_models

    sweep_suggestion_models.delay()
    return settings


def start(name, args):
    # Own session: Ctrl-C reaches only this script, which then stops children in order.
    print(f"starting {name}: {' '.join(args)}", flush=True)
    return name, subprocess.Popen(args, cwd=ROOT, start_new_session=True)


def stop(processes):
    for _, process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for name, process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time; killing it", flush=True)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = prepare()
    port = os.environ.get("PORT", "8000")
    celery = str(VENV_BIN / "celery")
    processes = [
        start("web", [str(VENV_BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                      "--threads", "4", "--access-logfile", "-", "--config", "python:config.gunicorn"]),
        start("worker", [celery, "-A", "config", "worker", "--queues", "default,embed", "--concurrency", "2",
                         "--loglevel", "info", "--hostname", "triage@%h"]),
        start("beat", [celery, "-A", "config", "beat", "--loglevel", "info",
                       "--schedule", str(Path(settings.VAR_DIR) / "celerybeat-schedule")]),
    ]  # fmt: skip
    print(f"\nTriage is running at http://127.0.0.1:{port}/  (Ctrl-C stops everything)\n", flush=True)
    stopping = []
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        while not stopping:
            exited = [name for name, process in processes if process.poll() is not None]
            if exited:
                print(f"{', '.join(exited)} exited; stopping the rest", flush=True)
                break
            time.sleep(0.5)
    finally:
        print("\nStopping web, worker and beat…", flush=True)
        stop(processes)
        from config import embedded

        embedded.stop_embedded_services(settings.VAR_DIR)
        print("Stopped.", flush=True)


if __name__ == "__main__":
    main()
