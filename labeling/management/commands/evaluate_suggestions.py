import time

from django.core.management.base import BaseCommand, CommandError

from labeling.actions.suggestions import TooFewDecidedError, evaluate_suggestions
from labeling.management.arguments import active_taxonomy


def _figure(value, digits=3):
    return "-" if value is None else f"{value:.{digits}f}"


class Command(BaseCommand):
    help = (
        "Cross-validate the suggestion model on the decided incidents of a taxonomy: accuracy, "
        "macro-F1 and Cohen's kappa against the human decisions per dimension, and a calibration table."
    )

    def add_arguments(self, parser):
        parser.add_argument("--taxonomy", required=True, help="Key of the active taxonomy.")
        parser.add_argument("--folds", type=int, default=5, help="Number of folds (at least 2).")

    def handle(self, *args, taxonomy, folds, **options):
        if folds < 2:
            raise CommandError("--folds must be at least 2")
        found = active_taxonomy(taxonomy)
        started = time.perf_counter()
        try:
            reports = evaluate_suggestions(found, folds=folds, progress=self._progress)
        except TooFewDecidedError as error:
            fewer = f"use --folds {error.decided} or " if error.decided >= 2 else ""
            raise CommandError(f"{error}; {fewer}decide more") from None
        if not reports:
            raise CommandError(f"taxonomy {taxonomy!r} has no decided incidents to evaluate on")
        self.stdout.write(f"{found.name} (v{found.version}), {folds}-fold cross-validation on the decided incidents\n")
        self._summary(reports)
        for report in reports.values():
            self._calibration(report)
        self.stdout.write(f"\n{time.perf_counter() - started:.0f} s")

    def _progress(self, fold, seconds):
        self.stderr.write(f"fold {fold + 1} done in {seconds:.0f} s")

    def _summary(self, reports):
        self.stdout.write(f"{'dimension':<20} {'items':>6} {'accuracy':>9} {'macro-F1':>9} {'kappa':>7} {'ECE':>7}")
        for report in reports.values():
            self.stdout.write(
                f"{report.dimension:<20} {report.items:>6} {_figure(report.accuracy):>9} "
                f"{_figure(report.macro_f1):>9} {_figure(report.kappa):>7} "
                f"{_figure(report.expected_calibration_error):>7}"
            )

    def _calibration(self, report):
        self.stdout.write(f"\nCalibration of {report.dimension}: score bin, suggestions, mean score, accuracy")
        for item in report.calibration:
            bin_range = f"{item.low:.1f}-{item.high:.1f}"
            self.stdout.write(
                f"  {bin_range} {item.count:>6} {_figure(item.mean_score):>7} {_figure(item.accuracy):>7}"
            )
