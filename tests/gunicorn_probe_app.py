"""A WSGI app for tests/test_gunicorn_worker.py: answers with the worker's pid after
sleeping `?sleep=` seconds, so a test can see which worker took which connection (`?fail`:
raises instead; `?metrics`: the worker's Prometheus metrics). PROBE_IMPORT_DELAY_S makes
loading it slow, as loading Django is (each worker loads it without GUNICORN_PRELOAD)."""

import os
import time
from urllib.parse import parse_qs

time.sleep(float(os.environ.get("PROBE_IMPORT_DELAY_S", "0")))


def app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if "metrics" in query:
        from prometheus_client import generate_latest

        body = generate_latest()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]
    time.sleep(float(query.get("sleep", ["0"])[0]))
    if "fail" in query:
        raise RuntimeError("the probe app fails on purpose")
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
