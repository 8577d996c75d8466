from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling.actions import import_labels
from labeling.label_file import LabelFileError, decode_label_file, parse_label_text


class Command(BaseCommand):
    help = (
        "Import human labels from a JSON lines file (PRODUCT.md §4) as annotations and the decisions "
        "they imply. Bad lines are listed on stderr and skipped, with the rest of their value set; a file "
        "that cannot be read changes nothing and exits non-zero."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file, **options):
        try:
            text = decode_label_file(file.read_bytes())
        except OSError as error:
            raise CommandError(f"{file}: cannot read: {error.strerror or error}") from None
        except LabelFileError as error:
            raise CommandError(f"{file}: {error}") from None
        lines, errors = parse_label_text(text)
        result = import_labels(lines, errors)
        for error in sorted([*errors, *result.errors], key=lambda error: error.line):
            self.stderr.write(f"{file}: {error}")
        rejected = len({error.line for error in errors}) + result.rejected_lines
        if rejected and not (result.created or result.unchanged):
            raise CommandError(f"{file}: no line could be imported ({rejected} rejected)")
        users = f", users created: {', '.join(result.users_created)}" if result.users_created else ""
        self.stdout.write(
            f"{file}: {result.created} annotations created, {result.unchanged} unchanged, "
            f"{rejected} lines rejected{users}."
        )
