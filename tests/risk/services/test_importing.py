"""risk/services/importing.py: the quickstart's accounts file read (schema checked, passwords
only when hashing), the plan that sizes each device's cluster, and the import it drives."""

import sqlite3

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password

from risk.models import Device, SignupAttempt
from risk.services.importing import QuickstartFile, quickstart_import, quickstart_plan
from risk.services.jobs import BackfillError

pytestmark = pytest.mark.django_db
User = get_user_model()


def quickstart(
    path,
    rows,
    ddl="CREATE TABLE Accounts (id INTEGER, username TEXT, password TEXT, visitorId TEXT)",
):
    db = sqlite3.connect(path)
    db.execute(ddl)
    db.executemany("INSERT INTO Accounts VALUES (?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    return QuickstartFile(str(path))


def test_the_file_is_read_without_passwords_until_asked_and_never_written(tmp_path):
    source = quickstart(
        tmp_path / "q.db",
        [(1, "ann", "secret-1", "VisitorAnn0000000001"), (2, b"bo\xffb", "", None)],
    )
    rows = source.rows()
    assert [(r.rowid, r.username, r.visitor_id) for r in rows] == [
        (1, "ann", "VisitorAnn0000000001"),
        (2, "bo\ufffdb", ""),
    ]
    assert source.count() == 2 and source.rows(after=1) == rows[1:]
    assert source.passwords([1]) == {1: "secret-1"}
    with pytest.raises(sqlite3.OperationalError):  # opened read-only
        source._db.execute("DELETE FROM Accounts")
    source.close()


@pytest.mark.parametrize(
    ("ddl", "code"),
    [
        ("CREATE TABLE users (id INTEGER)", "missing_table"),
        ("CREATE TABLE accounts (id INTEGER, username TEXT)", "missing_columns"),
    ],
)
def test_a_file_of_another_shape_is_refused_with_a_code(tmp_path, ddl, code):
    db = sqlite3.connect(tmp_path / "other.db")
    db.execute(ddl)
    db.close()
    with pytest.raises(BackfillError) as refused:
        QuickstartFile(str(tmp_path / "other.db"))
    assert refused.value.code == code
    (tmp_path / "text.db").write_text("not sqlite at all")
    with pytest.raises(BackfillError) as not_sqlite:
        QuickstartFile(str(tmp_path / "text.db"))
    assert not_sqlite.value.code == "not_sqlite"
    with pytest.raises(BackfillError) as missing:
        QuickstartFile(str(tmp_path / "nothing.db"))
    assert missing.value.code == "file_not_found"


def test_the_plan_counts_what_imports_and_holds_devices_over_the_limit(tmp_path, settings):
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 2
    User.objects.create_user("Taken")
    shared, trusted = "SharedVisitor0000001", "TrustedVisitor000001"
    Device.objects.create(visitor_id=trusted, status="trusted")
    rows = [
        (1, "a1", "pw", shared),
        (2, "a2", "pw", shared),
        (3, "a3", "pw", shared),  # the third on one device: over the limit of 2
        (4, "t1", "pw", trusted),
        (5, "t2", "pw", trusted),
        (6, "t3", "pw", trusted),  # a trusted device has no limit
        (7, "taken", "pw", None),  # an existing account, whatever the case
        (8, "A1", "pw", None),  # a duplicate within the file
        (9, "bad name!", "pw", None),
        (10, "ok", "pw", "not a visitor id!"),
    ]
    plan = quickstart_plan(source=quickstart(tmp_path / "q.db", rows), chunk=3)
    assert (plan.total_rows, plan.importable) == (10, 6)
    assert plan.skipped.as_dict() == {
        "invalid_username": 1,
        "invalid_visitor_id": 1,
        "username_exists": 2,
    }
    assert plan.review_visitors == {shared}


def test_the_import_hashes_links_and_holds_as_planned(tmp_path, settings):
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 1
    rows = [
        (1, "solo", "pw-solo-1", "SoloVisitor000000001"),
        (2, "twin1", "pw-twin-1", "TwinVisitor000000001"),
        (3, "twin2", "", "TwinVisitor000000001"),
    ]
    source = quickstart(tmp_path / "q.db", rows)
    plan = quickstart_plan(source=source)
    tally = quickstart_import(source=source, plan=plan, workers=1, batch_size=2)
    assert tally.as_dict() == {"imported": 1, "imported_review": 2}
    solo, twin1, twin2 = (User.objects.get(username=n) for n in ("solo", "twin1", "twin2"))
    assert solo.is_active and check_password("pw-solo-1", solo.password)
    assert not twin1.is_active and not twin2.has_usable_password()  # an empty one cannot log in
    held = SignupAttempt.objects.get(account=twin1)
    assert (held.endpoint, held.review_status, held.reasons) == (
        "import",
        "pending",
        ["device_shared"],
    )
    assert Device.objects.get(visitor_id="TwinVisitor000000001").account_count == 2
    assert quickstart_import(source=source, plan=plan, workers=1).as_dict()["username_exists"] == 3
