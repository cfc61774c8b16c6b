"""A test client that sends what the signup fast path takes through it, as fpdjango.wsgi does
in production (Django's test client calls the project's handler directly)."""

from django.test.client import ClientHandler
from rest_framework.test import APIClient

from accounts.fast_path import SignupChain, takes


class SignupClientHandler(SignupChain, ClientHandler):
    """The fast path's handler, with the test client's handling of connections and signals."""


class _Route:
    def __init__(self, full, fast: SignupClientHandler) -> None:
        self.full, self.fast, self.fast_answers = full, fast, 0

    def __call__(self, environ, *args, **kwargs):
        if takes(environ, self.fast.routes):
            self.fast_answers += 1
            return self.fast(environ, *args, **kwargs)
        return self.full(environ, *args, **kwargs)


class FastPathAPIClient(APIClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.handler = _Route(self.handler, SignupClientHandler(enforce_csrf_checks=False))

    @property
    def fast_answers(self) -> int:
        return self.handler.fast_answers
