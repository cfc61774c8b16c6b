"""manage.py rescore: the current rules (or trial thresholds) over stored signup attempts."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from risk.conf import SETTINGS, RiskSettings, risk_settings
from risk.management.job_output import job_errors
from risk.services import jobs, rescore

# Settings an operator may try with --set: every rule threshold in the settings table (by
# its RiskSettings field name), plus the failure policy.
TUNABLE = {s.field: s for s in SETTINGS if s.field and (s.name.startswith("RISK_") or s.choices)}
TUNABLE.pop("trusted_proxy_count", None)
TUNABLE.pop("region", None)
TUNABLE.pop("api_version", None)


def tunable_parse(name: str, value: str):
    """The typed, validated value of `--set name=value` (ValueError when it is not one)."""
    setting = TUNABLE[name]
    parsed = setting.parse(value)
    if setting.choices and parsed not in setting.choices:
        raise ValueError(f"{name} must be one of {', '.join(setting.choices)}")
    low, high = setting.minimum, setting.maximum
    if (low is not None and parsed < low) or (high is not None and parsed > high):
        raise ValueError(f"{name} must be between {low} and {high}")
    if setting.kind == "list":
        return tuple(parsed)
    return parsed


class Command(BaseCommand):
    help = (
        "Re-run the signup rules over the attempts created in a time range. --dry-run prints "
        "which decisions would change and why, and writes nothing. Applying records a "
        "Reassessment per attempt for the run id and flags changed attempts for review; the "
        "original decision and any reviewer's decision are never changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            required=True,
            help="attempts created at or after (ISO 8601, UTC if no zone; or an age: 24h, 7d)",
        )
        parser.add_argument("--until", help="attempts created at or before (default: now)")
        parser.add_argument(
            "--run-id",
            help="names this run; rerunning the same id adds nothing and resumes an interrupted "
            "run (default: rescore-<UTC timestamp>)",
        )
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="try a threshold without deploying it, e.g. --set suspect_score_review=5 "
            f"(names: {', '.join(TUNABLE)})",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print the changes; write nothing"
        )
        parser.add_argument("--batch-size", type=int, default=500, help="attempts per commit")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        cfg = self._settings(options["set"])
        run_id = options["run_id"] or f"rescore-{timezone.now():%Y%m%dT%H%M%S}"
        if len(run_id) > 64:
            raise CommandError("--run-id is at most 64 characters")
        bar_off = True if options["no_progress"] else None
        with job_errors(resume=f"run again with --run-id {run_id} to resume"):
            since = jobs.moment_parse(options["since"])
            until = jobs.moment_parse(options["until"]) if options["until"] else None
            with tqdm(desc="attempts", unit="att", disable=bar_off) as bar:
                report = rescore.attempts_rescore(
                    since=since,
                    until=until,
                    run_id=run_id,
                    cfg=cfg,
                    dry_run=options["dry_run"],
                    batch_size=options["batch_size"],
                    progress=bar.update,
                )
        self._print(report, run_id=run_id, dry_run=options["dry_run"])

    def _settings(self, pairs: list[str]) -> RiskSettings:
        cfg = risk_settings()
        changes = {}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            if not sep or name not in TUNABLE:
                raise CommandError(
                    f"--set {pair!r}: expected NAME=VALUE with NAME in {list(TUNABLE)}"
                )
            try:
                changes[name] = tunable_parse(name, value)
            except ValueError as exc:
                raise CommandError(f"--set {pair!r}: {exc}") from exc
        return cfg.replace(**changes)

    def _print(self, report: rescore.RescoreReport, *, run_id: str, dry_run: bool) -> None:
        out = self.stdout.write
        out(f"rescore {run_id}" + (" (dry run: nothing written)" if dry_run else ""))
        for outcome, count in report.tally.as_dict().items():
            out(f"  {outcome:<26} {count:>9}")
        if report.transitions:
            out("\nDecision changes")
            out(f"  {'change':<18} {'attempts':>9}")
            for change, count in sorted(report.transitions.items()):
                out(f"  {change:<18} {count:>9}")
        reasons = sorted(set(report.reasons_added) | set(report.reasons_removed))
        if reasons:
            out("\nWhy (reasons on changed attempts)")
            out(f"  {'reason':<26} {'now fires':>9} {'no longer':>9}")
            for reason in reasons:
                out(
                    f"  {reason:<26} {report.reasons_added.get(reason, 0):>9} "
                    f"{report.reasons_removed.get(reason, 0):>9}"
                )
        if report.samples:
            out("\nFirst changes")
            for s in report.samples:
                out(
                    f"  attempt #{s['attempt']}: {s['from']} -> {s['to']}"
                    f"  +{','.join(s['added']) or '-'}  -{','.join(s['removed']) or '-'}"
                )
