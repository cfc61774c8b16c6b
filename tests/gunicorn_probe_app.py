"""A WSGI app for tests/test_gunicorn_worker.py: answers with the worker's pid after
sleeping `?sleep=` seconds, so a test can see which worker took which connection (`?fail`:
raises instead)."""

import os
import time
from urllib.parse import parse_qs


def app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    time.sleep(float(query.get("sleep", ["0"])[0]))
    if "fail" in query:
        raise RuntimeError("the probe app fails on purpose")
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
