"""Write paths of the risk app, one module per job (HackSoftware style: `<entity>_<action>`).

signup           fetch and assess a signup's event, store snapshots (risk.services.signup)
devices          the one way to make sure Device rows exist (risk.services.devices)
drn              Device Reputation Network lookups (risk.services.drn)
review           reviewers' decisions with their audit rows (risk.services.review)
event_store      events arriving after the signup: versions, links (risk.services.event_store)
webhooks         events pushed by Fingerprint (risk.services.webhooks)
jobs             the resumable loop and what the jobs share (risk.services.jobs)
backfill_missing job: snapshots attempts and accounts lack (risk.services.backfill_missing)
backfill_search  job: a time range of events (risk.services.backfill_search)
backfill_drn     job: DRN lookups owed to Android devices (risk.services.backfill_drn)
rescore          job: the current rules over stored attempts (risk.services.rescore)
importing        job: the quickstart's accounts (risk.services.importing)
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
