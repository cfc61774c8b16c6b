"""Write paths of the risk app, one module per area (HackSoftware style: `<entity>_<action>`).

signup           gather a signup's evidence, decide, record the attempt (risk.services.signup)
snapshots        the stored copy of an event (risk.services.snapshots)
devices          the one way to make sure Device rows exist (risk.services.devices)
drn              Device Reputation Network lookups (risk.services.drn)
verification     decide signups accepted while Fingerprint was down (risk.services.verification)
review           reviewers' decisions with their audit rows (risk.services.review)
notifications    emails to users on reviewers' decisions (risk.services.notifications)
feedback         suspect flags reviewers' decisions tell Fingerprint (risk.services.feedback)
event_store      events arriving after the signup: versions, links (risk.services.event_store)
webhooks         events pushed by Fingerprint (risk.services.webhooks)
privacy          export, erasure, retention (risk.services.privacy)
jobs             the resumable loop and what the jobs share (risk.services.jobs)
backfill_missing job: snapshots attempts and accounts lack (risk.services.backfill_missing)
backfill_search  job: a time range of events (risk.services.backfill_search)
backfill_drn     job: DRN lookups owed to Android devices (risk.services.backfill_drn)
rescore          job: the current rules over stored attempts (risk.services.rescore)
importing        job: the quickstart's accounts (risk.services.importing)

Host code does not call these: its entry is risk.verdict.
"""
