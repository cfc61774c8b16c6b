"""risk.services.jobs.job_run: the one loop every resumable job uses."""

import pytest

from risk.models import BackfillCheckpoint, Device
from risk.services.jobs import Batch, job_run

pytestmark = pytest.mark.django_db
ITEMS = ["a", "b", "c", "d", "e"]


class BoomError(Exception):
    pass


def device_job(fail_on: str | None = None, seen: list | None = None):
    """A job that makes one Device per item, two items a batch; the checkpoint is the index."""

    def next_batch(state: dict) -> Batch | None:
        chunk = ITEMS[state["at"] : state["at"] + 2]
        if seen is not None:
            seen.append(list(chunk))
        if not chunk:
            return None

        def write(state: dict) -> dict:
            for item in chunk:
                Device.objects.create(visitor_id=item)
                if item == fail_on:
                    raise BoomError(item)
            return {"at": state["at"] + len(chunk)}

        return Batch(size=len(chunk), write=write)

    return next_batch


def test_a_failed_batch_rolls_back_its_work_with_its_checkpoint_and_the_rerun_resumes():
    with pytest.raises(BoomError):
        job_run(name="t", initial={"at": 0}, next_batch=device_job(fail_on="d"))
    # Batch 1 (a, b) committed with its checkpoint; batch 2 wrote c and d, then failed: gone.
    assert sorted(Device.objects.values_list("visitor_id", flat=True)) == ["a", "b"]
    assert BackfillCheckpoint.objects.get(name="t").state == {"at": 2}
    seen, progress = [], []
    final = job_run(
        name="t", initial={"at": 0}, next_batch=device_job(seen=seen), progress=progress.append
    )
    assert seen[0] == ["c", "d"]  # resumed after the last commit, not from the start
    assert progress == [2, 1] and final == {"at": 5}
    assert Device.objects.count() == 5
    assert not BackfillCheckpoint.objects.exists()  # cleared when the pass completes


def test_restart_ignores_the_checkpoint_and_persist_false_never_touches_one():
    BackfillCheckpoint.objects.create(name="t", state={"at": 4})
    seen = []
    job_run(name="t", initial={"at": 0}, next_batch=device_job(seen=seen), restart=True)
    assert seen[0] == ["a", "b"]
    Device.objects.all().delete()
    BackfillCheckpoint.objects.create(name="dry", state={"at": 4})
    seen = []
    job_run(name="dry", initial={"at": 0}, next_batch=device_job(seen=seen), persist=False)
    assert seen[0] == ["a", "b"]
    assert BackfillCheckpoint.objects.get(name="dry").state == {"at": 4}  # neither read nor cleared


def test_a_last_batch_ends_the_walk_without_asking_for_another():
    asked = []

    def next_batch(state: dict) -> Batch:
        asked.append(state["n"])
        return Batch(size=1, write=lambda s: {"n": s["n"] + 1}, last=state["n"] == 2)

    assert job_run(name="t", initial={"n": 0}, next_batch=next_batch) == {"n": 3}
    assert asked == [0, 1, 2]


def test_batch_committed_fires_after_each_commit(crash_after_batches):
    states = crash_after_batches(2)
    with pytest.raises(KeyboardInterrupt):
        job_run(name="t", initial={"at": 0}, next_batch=device_job())
    assert states == [{"at": 2}, {"at": 4}]
    assert BackfillCheckpoint.objects.get(name="t").state == {"at": 4}
    assert Device.objects.count() == 4
