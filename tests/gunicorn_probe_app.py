"""A WSGI app for tests/test_gunicorn_worker.py: answers with the worker's pid after
sleeping `?sleep=` seconds, so a test can see which worker took which connection."""

import os
import time
from urllib.parse import parse_qs


def app(environ, start_response):
    time.sleep(float(parse_qs(environ.get("QUERY_STRING", "")).get("sleep", ["0"])[0]))
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
