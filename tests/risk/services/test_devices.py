"""risk/services/devices.py: device_ensure, the one way Device rows are made."""

import threading

import pytest
from django.db import connection, connections

from risk.models import Device
from risk.services.devices import device_ensure, device_ensure_one


@pytest.mark.django_db
def test_device_ensure_creates_only_the_missing_devices():
    existing = Device.objects.create(visitor_id="known000000000000001", platform="js")
    ids, created = device_ensure(
        platforms={"known000000000000001": "android", "new00000000000000001": "android", "": "js"}
    )
    assert created == 1 and set(ids) == {"known000000000000001", "new00000000000000001"}
    assert ids["known000000000000001"] == existing.pk
    assert Device.objects.get(pk=existing.pk).platform == "js"  # an existing row is untouched
    assert Device.objects.get(visitor_id="new00000000000000001").platform == "android"
    assert device_ensure(platforms=dict.fromkeys(ids, "")) == (ids, 0)  # idempotent
    assert device_ensure_one(visitor_id="new00000000000000001").pk == ids["new00000000000000001"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_device_ensure_from_many_threads_at_once_makes_one_row():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every writer anyway")
    barrier = threading.Barrier(12)
    seen, failures = [], []

    def ensure():
        try:
            barrier.wait()
            seen.append(device_ensure_one(visitor_id="raced000000000000001", platform="ios").pk)
        except Exception as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ensure) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(set(seen)) == 1 and len(seen) == 12
    assert Device.objects.filter(visitor_id="raced000000000000001").count() == 1
