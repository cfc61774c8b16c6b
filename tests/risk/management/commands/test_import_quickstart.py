"""manage.py import_quickstart on a SQLite file shaped like the FastAPI quickstart's."""

import io
import sqlite3

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from risk.models import BackfillCheckpoint, Device, SignupAttempt

pytestmark = pytest.mark.django_db
User = get_user_model()

ROWS = [  # id, username, plaintext password, visitorId
    (1, "alice", "plain-Alpha-1111", "visitorAAAAAAAAAAAAA"),
    (2, "bob", "plain-Bravo-2222", "visitorBBBBBBBBBBBBB"),
    (3, "carol", "plain-Charlie-3333", "visitorBBBBBBBBBBBBB"),
    (4, "dave", "plain-Delta-4444", "visitorBBBBBBBBBBBBB"),
    (5, "erin", "plain-Echo-5555", None),
    (6, "Frank", "plain-Foxtrot-6666", "visitorCCCCCCCCCCCCC"),  # taken (case-insensitively)
    (7, "ALICE", "plain-Golf-7777", "visitorDDDDDDDDDDDDD"),  # duplicate in the file
    (8, "bad name!", "plain-Hotel-8888", "visitorEEEEEEEEEEEEE"),
]
PLAINTEXTS = [row[2] for row in ROWS]


def quickstart_db(path, rows=ROWS, ddl=None):
    db = sqlite3.connect(path)
    db.execute(
        ddl
        or "CREATE TABLE accounts (id INTEGER PRIMARY KEY, username TEXT UNIQUE, "
        "password TEXT, visitorId TEXT)"
    )
    if rows:
        db.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    return str(path)


def run(path, **options) -> str:
    out = io.StringIO()
    call_command("import_quickstart", path, no_progress=True, stdout=out, **options)
    return out.getvalue()


def every_text_value():
    """Every text-ish value of every row in every table of the project's models."""
    for model in apps.get_models():
        for row in model.objects.values_list():
            for value in row:
                if value is not None:
                    yield model.__name__, str(value)


def test_imports_every_row_hashes_and_queues_duplicate_devices(tmp_path):
    User.objects.create_user(username="frank", password="x-Pass-word-9")
    path = quickstart_db(tmp_path / "quickstart.db")

    output = run(path, workers=2)

    imported = {"alice", "bob", "carol", "dave", "erin"}
    assert set(User.objects.exclude(username="frank").values_list("username", flat=True)) == (
        imported
    )
    for _, username, password, visitor in ROWS[:5]:
        user = User.objects.get(username=username)
        assert user.password.startswith("argon2$argon2id$")
        assert user.check_password(password)
        device = user.signup_attempt.device
        assert (device.visitor_id if device else None) == visitor
    # visitor B has 3 accounts > RISK_MAX_ACCOUNTS_PER_DEVICE (1): all three go to review.
    cluster = Device.objects.get(visitor_id="visitorBBBBBBBBBBBBB")
    assert (cluster.account_count, cluster.attempt_count) == (3, 3)
    queued = SignupAttempt.objects.filter(endpoint="import", review_status="pending")
    assert set(queued.values_list("username", flat=True)) == {"bob", "carol", "dave"}
    assert set(queued.values_list("decision", flat=True)) == {"review"}
    # the review reason of a shared device, not the denying `device_limit`
    assert {tuple(r) for r in queued.values_list("reasons", flat=True)} == {("device_shared",)}
    assert not User.objects.get(username="bob").is_active  # held until a reviewer approves
    alice = SignupAttempt.objects.get(username="alice")
    assert (alice.decision, alice.review_status, alice.endpoint) == ("allow", "", "import")
    assert alice.account.is_active and alice.device.account_count == 1
    assert SignupAttempt.objects.filter(endpoint="import").count() == 5
    # No plaintext anywhere in the database.
    leaks = [(m, v) for m, v in every_text_value() for p in PLAINTEXTS if p in v]
    assert leaks == []
    assert "username_exists" in output and "invalid_username" in output
    assert "destroy it now" in output
    assert not BackfillCheckpoint.objects.exists()

    before = sorted(User.objects.values_list("username", "password"))
    again = run(path)  # rerun: nothing new
    assert sorted(User.objects.values_list("username", "password")) == before
    assert "imported " not in again and "username_exists" in again
    assert Device.objects.get(visitor_id="visitorBBBBBBBBBBBBB").account_count == 3


def test_reset_passwords_leaves_them_unusable(tmp_path):
    path = quickstart_db(tmp_path / "q.db", rows=ROWS[:2])
    run(path, reset_passwords=True)
    for username in ("alice", "bob"):
        assert not User.objects.get(username=username).has_usable_password()
    assert [v for _, v in every_text_value() if "plain-" in v] == []


def test_dry_run_writes_nothing(tmp_path):
    path = quickstart_db(tmp_path / "q.db")
    output = run(path, dry_run=True)
    assert "would_import" in output
    assert not User.objects.exists() and not Device.objects.exists()


def test_interrupted_import_resumes(tmp_path, crash_after_batches):
    path = quickstart_db(tmp_path / "q.db", rows=ROWS[:5])
    crash_after_batches(1)
    with pytest.raises(CommandError, match="interrupted"):
        run(path, batch_size=2)
    assert User.objects.count() == 2
    from risk.services.jobs import batch_committed

    batch_committed.disconnect(dispatch_uid="crash_after_batches")
    run(path, batch_size=2)
    assert User.objects.count() == 5
    assert SignupAttempt.objects.count() == 5
    assert Device.objects.get(visitor_id="visitorBBBBBBBBBBBBB").account_count == 3
    # The cluster was sized on the whole file, also for the rows imported before the crash.
    assert set(
        SignupAttempt.objects.filter(review_status="pending").values_list("username", flat=True)
    ) == {"bob", "carol", "dave"}


@pytest.mark.parametrize(
    ("ddl", "code"),
    [
        ("CREATE TABLE users (id INTEGER, username TEXT, password TEXT, visitorId TEXT)",
         "missing_table"),
        ("CREATE TABLE accounts (id INTEGER, username TEXT, password TEXT)", "missing_columns"),
    ],
)  # fmt: skip
def test_wrong_schema_is_a_clear_error(tmp_path, ddl, code):
    path = quickstart_db(tmp_path / "q.db", rows=None, ddl=ddl)
    with pytest.raises(CommandError, match=code):
        run(path)
    assert not User.objects.exists()


def test_missing_or_non_sqlite_file(tmp_path):
    with pytest.raises(CommandError, match="file_not_found"):
        run(str(tmp_path / "nope.db"))
    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all, just text " * 100)
    with pytest.raises(CommandError, match="not_sqlite"):
        run(str(junk))


def test_malformed_visitor_ids_are_skipped_not_crashing(tmp_path):
    rows = [
        (1, "gina", "plain-India-9999", "x" * 300),  # longer than any Fingerprint visitor id
        (2, "hank", "plain-Juliet-1010", "visitor with spaces"),
        (3, "ivan", "plain-Kilo-1111", "visitorFFFFFFFFFFFFF"),
    ]
    output = run(quickstart_db(tmp_path / "qs.sqlite3", rows=rows))
    assert "invalid_visitor_id" in output
    assert list(User.objects.values_list("username", flat=True)) == ["ivan"]
    assert list(Device.objects.values_list("visitor_id", flat=True)) == ["visitorFFFFFFFFFFFFF"]
