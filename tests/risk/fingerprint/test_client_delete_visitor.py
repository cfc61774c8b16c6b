"""FingerprintClient.delete_visitor over real HTTP against the sandbox."""

import pytest

from risk.fingerprint.client import FingerprintClient
from risk.fingerprint.errors import AuthError, NotFoundError, UnavailableError
from tests.conftest import SANDBOX_KEY


def make_client(url, **kwargs):
    kwargs.setdefault("secret_key", SANDBOX_KEY)
    kwargs.setdefault("timeout_s", 1.0)
    return FingerprintClient(api_url=url, **kwargs)


def test_delete_visitor(sandbox, sandbox_server):
    created = sandbox.create_event(visitor_id="delVisitor0000000001")
    client = make_client(sandbox_server.url)
    assert client.delete_visitor("delVisitor0000000001") is None
    with pytest.raises(NotFoundError):
        client.get_event(created["event_id"])
    with pytest.raises(NotFoundError) as info:
        client.delete_visitor("delVisitor0000000001")
    assert info.value.status == 404 and info.value.code == "visitor_not_found"


def test_empty_visitor_id_costs_no_call(sandbox, sandbox_server):
    before = sandbox.stats()["total"]
    with pytest.raises(NotFoundError):
        make_client(sandbox_server.url).delete_visitor("")
    assert sandbox.stats()["total"] == before + 1  # only our stats call


def test_feature_not_enabled_is_an_auth_error_with_its_code(sandbox, sandbox_server):
    sandbox.create_event(visitor_id="delVisitor0000000002")
    sandbox.set_faults(visitor_delete=False)
    with pytest.raises(AuthError) as info:
        make_client(sandbox_server.url).delete_visitor("delVisitor0000000002")
    assert info.value.status == 403 and info.value.code == "feature_not_enabled"


def test_wrong_key_is_an_auth_error(sandbox, sandbox_server):
    with pytest.raises(AuthError) as info:
        make_client(sandbox_server.url, secret_key="nope").delete_visitor("whoever")
    assert info.value.code == "secret_api_key_not_found"


def test_transient_503_is_retried_and_persistent_one_is_unavailable(sandbox, sandbox_server):
    sandbox.create_event(visitor_id="delVisitor0000000003")
    sandbox.set_faults(target="events", status=503, count=1)
    make_client(sandbox_server.url).delete_visitor("delVisitor0000000003")
    statuses = sandbox.stats()["statuses"]["v4_delete_visitor"]
    assert statuses["503"] >= 1 and statuses["200"] >= 1
    sandbox.set_faults(target="events", status=503)
    with pytest.raises(UnavailableError):
        make_client(sandbox_server.url).delete_visitor("delVisitor0000000003")
