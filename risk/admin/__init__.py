"""The review console in /admin: one module per ModelAdmin (see docs/review-console.md). The
site itself (dashboard, layout) is risk.admin_site.ReviewAdminSite."""

from risk.admin import (  # noqa: F401
    allowlist,
    attempts,
    backtest,
    decisions,
    devices,
    drn,
    events,
    feedback,
    privacy,
    thresholds,
)
