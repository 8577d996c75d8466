import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from incidents import importers, imports
from incidents.models import ImportBatch


class Command(BaseCommand):
    help = (
        "Import incidents from a JSON lines, CSV or Statuspage file (PRODUCT.md §4), upserting by "
        "(source, external_id). Bad rows are listed on stderr and skipped; a file that cannot be "
        "read changes nothing and exits non-zero."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", required=True, choices=importers.FORMATS)
        parser.add_argument(
            "--source", default="", help="Source of rows that name none; for statuspage, instead of the page's name."
        )
        parser.add_argument(
            "--async", dest="run_async", action="store_true", help="Queue the import for a worker and return at once."
        )

    def handle(self, *args, file, format, source, run_async, **options):
        if len(source) > importers.MAX_LENGTHS["source"]:
            raise CommandError(f"--source is longer than {importers.MAX_LENGTHS['source']} characters")
        try:
            importers.check_storable(source)  # bytes that are not UTF-8 arrive as lone surrogates
        except importers.InvalidValue as error:
            raise CommandError(f"--source {error}") from None
        shown = _displayable(file)
        content = self._read(file, shown)
        if run_async:
            with transaction.atomic():
                batch = imports.create_import_batch(file_name=shown.name, content=content, fmt=format, source=source)
                imports.enqueue_import_batch(batch)
            self.stdout.write(f"{shown}: queued as import batch #{batch.pk}.")
            return
        batch = imports.import_file(file_name=shown.name, content=content, fmt=format, source=source)
        self._report(shown, batch)

    def _read(self, file, shown):
        try:
            size = file.stat().st_size
            problem = importers.size_problem(size, settings.IMPORT_MAX_BYTES)
            if problem:
                raise CommandError(f"{shown}: {problem}")
            return file.read_bytes()
        except OSError as error:
            raise CommandError(f"{shown}: cannot read: {error.strerror or error}") from None

    def _report(self, file, batch):
        for error in batch.errors:
            self.stderr.write(f"{file}: {importers.RowError(**error)}")
        if batch.rejected and len(batch.errors) >= imports.MAX_STORED_ERRORS:
            self.stderr.write(f"{file}: only the first {len(batch.errors)} problems are listed")
        if batch.status == ImportBatch.Status.FAILED:
            raise CommandError(f"{file}: {batch.failure}")
        self.stdout.write(
            f"{file}: {batch.created} created, {batch.updated} updated, {batch.unchanged} unchanged, "
            f"{batch.rejected} rejected (import batch #{batch.pk})."
        )


def _displayable(path):
    """The path with bytes that are not UTF-8 shown as U+FFFD, for the batch row and the output.

    The OS hands such bytes over as lone surrogates, which PostgreSQL and stdout refuse.
    """
    return Path(os.fsencode(path).decode("utf-8", "replace"))
