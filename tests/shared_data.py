"""The real status-page incidents and labels of ../shared/data: where they are, and loading them.

They live beside the project, never inside it (shared/data/README.md); tests that read them
skip with the reason where the folder is absent.
"""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

DATA_DIR = Path(settings.BASE_DIR).parent / "shared" / "data"
needs_data = pytest.mark.skipif(
    not DATA_DIR.is_dir(), reason=f"real incident data not found at {DATA_DIR} (see shared/data/README.md)"
)
STATUSPAGE_SOURCES = ("openai", "anthropic", "character")


def load_status_page_data(labels=True):
    """Import the 542 status-page incidents, the llm-status taxonomy and (optionally) dev_labels.jsonl."""
    for source in STATUSPAGE_SOURCES:
        path = DATA_DIR / f"statuspage_{source}.json"
        call_command("import_incidents", str(path), format="statuspage", source=source, stdout=_Sink(), stderr=_Sink())
    call_command("import_taxonomy", str(DATA_DIR / "llm_status_taxonomy.json"), stdout=_Sink())
    if labels:
        call_command("import_labels", str(DATA_DIR / "dev_labels.jsonl"), stdout=_Sink(), stderr=_Sink())


class _Sink:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass
