from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from risk.conf import risk_settings
from sandbox import simulation


class Command(BaseCommand):
    help = (
        "Sign up a realistic population through the real signup API, with events from the "
        "sandbox: the labelled population of docs/decision-quality.md (people, households, "
        "offices, carrier NAT, VPN and privacy browsers; bots, device farms, anti-detect "
        "rotation, emulators, scripted VMs, replayed and stolen events)."
    )
    # A client of the running servers: their configuration is not this command's to check.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=300, help="signups to attempt")
        parser.add_argument("--api", default="http://127.0.0.1:8000", help="the product's URL")
        parser.add_argument(
            "--sandbox", default=None, help="the sandbox's URL (default: FINGERPRINT_SANDBOX_URL)"
        )
        parser.add_argument("--seed", type=int, default=None, help="repeatable population")
        parser.add_argument(
            "--mix",
            default=None,
            help="kind=weight,... replacing the default mix; kinds: " + ", ".join(simulation.KINDS),
        )
        parser.add_argument("--workers", type=int, default=8, help="concurrent devices")
        parser.add_argument(
            "--client-ip", default=None, help="IP the API sees (default: detected locally)"
        )
        parser.add_argument(
            "--forwarded",
            action="store_true",
            help="each signup says its own network's address in X-Forwarded-For (homes, "
            "offices, carrier NAT, datacenters, rotating proxies); the API must trust one "
            "proxy (RISK_TRUSTED_PROXY_COUNT=1), as bin/run's server does",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        sandbox_url = options["sandbox"] or risk_settings().api_url
        try:
            mix = simulation.parse_mix(options["mix"]) if options["mix"] else None
            if (mix or simulation.DEFAULT_MIX).get("qa_lab"):
                self.stdout.write(_lab_allowlisted())
            report = simulation.signups_simulate(
                api_url=options["api"],
                sandbox_url=sandbox_url,
                users=options["users"],
                mix=mix,
                seed=options["seed"],
                workers=options["workers"],
                client_ip=options["client_ip"],
                forwarded=options["forwarded"],
                progress=not options["no_progress"],
            )
        except simulation.SimulationError as exc:
            raise CommandError(str(exc)) from exc
        reasons = simulation.attempts_by_reason(report.references)
        self.stdout.write(simulation.format_report(report, reasons))


def _lab_allowlisted() -> str:
    """The QA lab's range on this database's allowlist (the demo's API writes here too)."""
    from risk.models import AllowlistEntry, AllowlistKind  # the sandbox alone needs no risk
    from risk.services.allowlist import allowlist_entry_save

    network = simulation.LAB_NETWORK
    if not AllowlistEntry.objects.filter(kind=AllowlistKind.NETWORK, value=network).exists():
        entry = AllowlistEntry(kind=AllowlistKind.NETWORK, value=network, note="QA lab (demo)")
        allowlist_entry_save(entry=entry, actor=None, adding=True)
    return f"the QA lab's range {network} is allowlisted (Allowlist entries in the console)"
