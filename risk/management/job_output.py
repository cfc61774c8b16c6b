"""What the operator commands share: errors as CommandError, and the summary they print."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from django.core.management.base import CommandError, OutputWrapper

from risk.services.jobs import BackfillError

RESUME = "committed batches are kept; run the same command again to resume"


@contextmanager
def job_errors(*, resume: str = RESUME) -> Iterator[None]:
    """A job's coded error, or Ctrl-C, becomes a CommandError (non-zero exit, no traceback)."""
    try:
        yield
    except BackfillError as exc:
        raise CommandError(f"{exc.code}: {exc}") from exc
    except KeyboardInterrupt as exc:
        raise CommandError(f"interrupted: {resume}") from exc


def summary_write(out: OutputWrapper, title: str, counts: Mapping[str, int]) -> None:
    """`title: summary` then one aligned line per outcome."""
    out.write(f"{title}: summary")
    width = max((len(name) for name in counts), default=0) + 2
    for outcome, count in counts.items():
        out.write(f"  {outcome:<{width}} {count:>9}")
