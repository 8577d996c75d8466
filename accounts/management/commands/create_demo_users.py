import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.actions import create_demo_users


class Command(BaseCommand):
    help = "Create one demo login per role on first run and print the logins."

    def handle(self, *args, **options):
        logins_file = Path(settings.VAR_DIR) / "demo_logins.json"
        created = create_demo_users()
        if created:
            # Kept (readable by the owner only) so later runs can print the same logins.
            logins_file.parent.mkdir(parents=True, exist_ok=True)
            known = json.loads(logins_file.read_text()) if logins_file.exists() else {}
            known.update(created)
            logins_file.write_text(json.dumps(known, indent=2))
            logins_file.chmod(0o600)
        known = json.loads(logins_file.read_text()) if logins_file.exists() else {}
        for username, password in known.items():
            self.stdout.write(f"  {username:<10} {password}")
