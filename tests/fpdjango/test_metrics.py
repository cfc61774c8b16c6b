"""fpdjango/metrics.py: GET /metrics, for the scraper only."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


TOKEN = "scrape-token-for-tests"


def test_metrics_is_hidden_without_a_token_and_closed_without_the_right_one(settings):
    client = APIClient()
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
