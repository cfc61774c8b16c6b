"""accounts 0003/0004: the signup link moves from the user model into risk's SignupAttempt, and
back again when migrated backwards, on a real database."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("accounts", "0002_initial"), ("risk", "0013_client_network_and_cache_table")]
AFTER = [("accounts", "0004_drop_signup_fields"), ("risk", "0013_client_network_and_cache_table")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def at_latest_afterwards():
    yield
    executor = MigrationExecutor(connection)
    _migrate(executor.loader.graph.leaf_nodes())


def test_links_move_into_attempts_and_back(at_latest_afterwards):
    apps = _migrate(BEFORE)
    User = apps.get_model("accounts", "User")
    Device = apps.get_model("risk", "Device")
    Attempt = apps.get_model("risk", "SignupAttempt")  # noqa: N806
    device = Device.objects.create(visitor_id="v-household")
    # Signed up through the API: the attempt links the account but not (yet) the device.
    ann = User.objects.create(username="ann", email="ann@example.com", device=device,
                              signup_event_id="1708102555327.NLOjmg")  # fmt: skip
    Attempt.objects.create(username="ann", event_id="1708102555327.NLOjmg", account_id=ann.pk,
                           decision="allow", reasons=[], endpoint="signup")  # fmt: skip
    # Older than attempts: only the user row knows its device.
    bob = User.objects.create(username="bob", email="bob@example.com", device=device,
                              signup_event_id="1708102555328.AbCdEf", is_active=False)  # fmt: skip
    carol = User.objects.create(username="carol")  # staff made by hand: no link at all

    apps = _migrate(AFTER)
    Attempt = apps.get_model("risk", "SignupAttempt")  # noqa: N806
    User = apps.get_model("accounts", "User")
    assert not hasattr(User(), "signup_event_id")
    ann_attempt = Attempt.objects.get(account_id=ann.pk)
    assert (ann_attempt.device_id, ann_attempt.visitor_id) == (device.pk, "v-household")
    assert ann_attempt.endpoint == "signup"
    bob_attempt = Attempt.objects.get(account_id=bob.pk)
    assert bob_attempt.endpoint == "linked"
    assert (bob_attempt.device_id, bob_attempt.visitor_id) == (device.pk, "v-household")
    assert (bob_attempt.event_id, bob_attempt.decision) == ("1708102555328.AbCdEf", "review")
    assert not Attempt.objects.filter(account_id=carol.pk).exists()

    apps = _migrate(BEFORE)
    User = apps.get_model("accounts", "User")
    Attempt = apps.get_model("risk", "SignupAttempt")  # noqa: N806
    restored = {u.username: (u.device_id, u.signup_event_id) for u in User.objects.all()}
    assert restored == {
        "ann": (device.pk, "1708102555327.NLOjmg"),
        "bob": (device.pk, "1708102555328.AbCdEf"),
        "carol": (None, ""),
    }
    # The attempts the forward step made are gone; the real one stays.
    assert list(Attempt.objects.values_list("username", flat=True)) == ["ann"]
