"""The signup logger's JSON lines, as the production handler writes them, and a signup to log."""

import io
import logging

import pytest

from fpdjango.logs import JsonFormatter, RequestIdFilter
from tests.support.review import PASSWORD


def signup(api, event_id, username, **headers):
    body = {"event_id": event_id, "username": username, "password": PASSWORD}
    return api.post("/api/signup", body, format="json", **headers)


@pytest.fixture
def json_log():
    """What the production handler writes for the signup logger: JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("fpdjango.signup")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)
