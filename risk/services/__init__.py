"""Write paths of the risk app, one module per job (HackSoftware style: `<entity>_<action>`).

signup    fetch and assess a signup's event, store snapshots (risk.services.signup)
drn       Device Reputation Network lookups (risk.services.drn)
review    reviewers' decisions with their audit rows (risk.services.review)
backfill  operator jobs: event snapshots and DRN lookups (risk.services.backfill)
rescore   the current rules over stored attempts (risk.services.rescore)
importing the quickstart's accounts (risk.services.importing)
jobs      what the operator jobs share: rate limit, checkpoints, outcome counts
webhooks  events pushed by Fingerprint (risk.services.webhooks)
"""

from risk.services.signup import (  # noqa: F401  (the public signup API)
    FetchResult,
    attempt_account_failed,
    attempt_attach_account,
    device_lock_for_attempt,
    event_fetch,
    event_snapshot_fields,
    event_snapshot_store,
    signup_assess,
)
from risk.services.webhooks import event_webhook_store  # noqa: F401
