"""A guard in front of Django's WSGI handler for one kind of malformed request.

Django decodes the query string with the charset the Content-Type names, while it builds the
request, before any middleware runs: a codec that is not a text encoding (`charset=rot13`,
`hex`, `zlib`) raises there, and the server answers a bare 500 that no view or middleware can
turn into anything else. Such requests are refused here with a JSON 400 first. A charset
Python does not know at all is ignored by Django, and passes.
"""

from __future__ import annotations

import json
from email.message import Message

BODY = json.dumps(
    {"code": "unsupported_charset", "message": "The Content-Type names no text encoding."}
).encode()


def _unreadable(content_type: str) -> bool:
    message = Message()
    message["Content-Type"] = content_type
    charset = message.get_param("charset")
    if not isinstance(charset, str) or not charset:
        return False
    try:
        b"x".decode(charset)
    except LookupError as exc:
        return "not a text encoding" in str(exc)
    except (UnicodeDecodeError, ValueError):
        return False  # a text encoding that "x" alone is not valid in
    return False


def reject_unreadable_charsets(application):
    def guarded(environ, start_response):
        if _unreadable(environ.get("CONTENT_TYPE", "")):
            start_response(
                "400 Bad Request",
                [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))],
            )
            return [BODY]
        return application(environ, start_response)

    return guarded
