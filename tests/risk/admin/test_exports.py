"""risk/admin/exports.py: streaming CSV of the queue's selection."""

import csv
import io

import pytest
from django.urls import reverse

from tests.support.review import empty_cache, held  # noqa: F401

pytestmark = pytest.mark.django_db


def test_queue_export_streams_the_filtered_selection(alice_client, sandbox):
    keep = held(sandbox, email="k@keep.example", username="+cmd")
    held(sandbox, email="d@drop.example")
    response = alice_client.get(reverse("admin:risk_signupattempt_export") + "?domain=keep.example")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["id"] for r in rows] == [str(keep.pk)]
    assert rows[0]["username"] == "'+cmd"  # not a formula in a spreadsheet
    assert rows[0]["review_status"] == "pending" and rows[0]["reasons"] == " ".join(keep.reasons)
