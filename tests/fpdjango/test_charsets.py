"""fpdjango/charsets.py: a Content-Type charset that names no text encoding is a 400 from the
project's WSGI application (Django itself would fail building the request: a bare 500)."""

import json

import pytest
from django.test import RequestFactory

from fpdjango.wsgi import application


def call(environ) -> tuple[str, bytes]:
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = status

    body = b"".join(application(environ, start_response))
    return answer["status"], body


@pytest.mark.parametrize("charset", ["rot13", "hex", "zlib", "base64"])
@pytest.mark.parametrize("path", ["/api/signup?x=1", "/healthz?x=1", "/admin/login/?next=/"])
def test_a_codec_that_is_no_text_encoding_is_a_400(charset, path):
    environ = RequestFactory().post(path, b"{}", content_type="application/json").environ
    environ["CONTENT_TYPE"] = f"application/json; charset={charset}"
    status, body = call(environ)
    assert status.startswith("400") and json.loads(body)["code"] == "unsupported_charset"


@pytest.mark.parametrize("charset", ["utf-8", "latin-1", "no-such-charset"])
def test_text_encodings_and_unknown_names_go_through(charset):
    environ = RequestFactory().get("/signup?x=1").environ
    environ["CONTENT_TYPE"] = f"text/plain; charset={charset}"
    status, _ = call(environ)
    assert status.startswith("200")
