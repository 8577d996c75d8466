from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict

from incidents import exporters, imports
from incidents.filters import IncidentFilterSet
from incidents.models import Incident


class Command(BaseCommand):
    help = (
        "Write incidents as JSON lines or CSV, with their timelines and decided labels; "
        "import_incidents reads the file back."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=exporters.FORMATS)
        parser.add_argument("--output", type=Path, help="File to write; standard output when left out.")
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A filter of the incidents list, e.g. source=openai, severity=1, q=timeout; repeatable.",
        )

    def handle(self, *args, format, output, filter, **options):
        incidents = self._filtered(filter)
        write = exporters.csv_lines if format == "csv" else exporters.jsonl_lines
        lines = write(imports.iter_export_records(incidents), imports.list_label_columns(incidents))
        if output is None:
            for line in lines:
                self.stdout.write(line, ending="")
            return
        try:
            with output.open("w", encoding="utf-8", newline="") as stream:
                stream.writelines(lines)
        except OSError as error:
            raise CommandError(f"{output}: cannot write: {error.strerror or error}") from None
        self.stderr.write(f"Wrote {output}.")

    def _filtered(self, filters):
        query = QueryDict(mutable=True)
        for item in filters:
            name, separator, value = item.partition("=")
            if not separator:
                raise CommandError(f"--filter {item!r}: write it as NAME=VALUE")
            query.appendlist(name.strip(), value)
        unknown = set(query) - set(IncidentFilterSet.base_filters)
        if unknown:
            raise CommandError(f"--filter: unknown filter {', '.join(sorted(unknown))}")
        filterset = IncidentFilterSet(query, queryset=Incident.objects.all())
        if not filterset.is_valid():
            problems = [f"--filter {name}: {' '.join(messages)}" for name, messages in filterset.errors.items()]
            raise CommandError("; ".join(problems))
        return filterset.qs
