"""The signup endpoints' fast path: Django's request cycle without the work that does nothing
for them (issue 14: refusals at the seed's cost).

A signup through the full stack spends about as much CPU in the serving layers as in its own
work (docs/benchmarks.md): eleven middleware, the URL resolver and DRF's dispatch (its Request
wrapper, content negotiation, authentication, permissions). `with_signup_fast_path` puts a
second Django handler in front of the project's WSGI application for the plain case of the two
signup endpoints, and everything else goes to the project's handler unchanged.

What stays the same, because it is the same code:
* Django's WSGI handler: the request object, `request_started`/`request_finished` (database
  connections), exceptions turned into responses, 5xx logging;
* the middleware from settings.MIDDLEWARE, in their order, except those in
  `INERT_FOR_SIGNUP` (each says why it does nothing for these endpoints). A middleware added
  later runs on the fast path too, until someone decides it is inert here;
* the DRF view's own parts: its throttles, parser, `accounts.views.signup_answer`, the
  project's exception handler and the JSON renderer, and the headers DRF adds.

What the fast path takes (`takes`): a POST with a JSON body of a stated length within the cap,
no query string, and an Accept header that can only mean JSON. Anything else (a form post, a
chunked body, `?format=`, `Accept: text/html`...) goes to the full stack, which answers it
as it always has. `SIGNUP_FAST_PATH=0` turns it off.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.urls import reverse
from django.utils.module_loading import import_string
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from accounts.parsers import SIGNUP_MAX_BODY_BYTES, BoundedJSONParser, announced_length
from accounts.views import CreateAccountView, SignupView, signup_answer

# settings.MIDDLEWARE entries the fast path leaves out, and why each does nothing for a
# signup request (anonymous, JSON in and out, no session, no cookies, CSRF-exempt).
INERT_FOR_SIGNUP = {
    "whitenoise.middleware.WhiteNoiseMiddleware": "serves /static/ only",
    "django.contrib.sessions.middleware.SessionMiddleware": "no view here reads the session",
    "django.middleware.csrf.CsrfViewMiddleware": "DRF views are CSRF-exempt (no cookies used)",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "the signup is anonymous",
    "django_otp.middleware.OTPMiddleware": "staff two-factor: no user here",
    "django.contrib.messages.middleware.MessageMiddleware": "no messages on an API",
    "axes.middleware.AxesMiddleware": "locks out staff logins on the admin site only",
}

# Accept headers whose only match is DRF's JSON renderer as DRF would pick it.
_JSON_ACCEPTS = frozenset({"", "*/*", JSONRenderer.media_type})


def takes(environ: dict, routes: dict[str, type[APIView]]) -> type[APIView] | None:
    """The view class this request would reach, if the fast path answers it as the full
    stack would; None sends it to the full stack."""
    view_class = routes.get(environ.get("PATH_INFO", ""))
    if view_class is None or environ.get("REQUEST_METHOD") != "POST":
        return None
    media_type = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if media_type != BoundedJSONParser.media_type or environ.get("QUERY_STRING"):
        return None
    if environ.get("HTTP_ACCEPT", "").strip() not in _JSON_ACCEPTS:
        return None
    # Empty and unstated lengths (DRF reads those as no data, a 400 of its own), and bodies
    # over the cap (a 413 before reading), are the full stack's.
    if not 0 < announced_length(environ) <= SIGNUP_MAX_BODY_BYTES:
        return None
    return view_class


def signup_view(request, view_class: type[APIView]):
    """What DRF's dispatch does for this request, with the same parts of the view."""
    view = view_class()
    view.request, view.args, view.kwargs = request, (), {}
    try:
        view.check_throttles(request)
        parser = view.get_parsers()[0]
        encoding = request.encoding or settings.DEFAULT_CHARSET
        context = {"request": request, "view": view, "encoding": encoding}
        data = parser.parse(request, parser.media_type, context)
        response = signup_answer(
            request, data, serializer_class=view.serializer_class, endpoint=view.endpoint
        )
    except Exception as exc:
        # The project's handler (accounts.api_errors): API errors and the database's 503;
        # anything else goes on up to Django, as from the view.
        response = view.get_exception_handler()(exc, view.get_exception_handler_context())
        if response is None:
            raise
        response.exception = True
    response.accepted_renderer = JSONRenderer()
    response.accepted_media_type = JSONRenderer.media_type
    response.renderer_context = view.get_renderer_context()
    for key, value in view.default_response_headers.items():
        response[key] = value
    return response.render()


class SignupChain:
    """Django's handler with a short middleware chain whose innermost handler is the signup
    view (no URL resolution). Mixed into Django's WSGI handler (and, in the tests, into its
    test client's handler)."""

    def __init__(self, *args, **kwargs):
        self.routes = {
            reverse("api-signup"): SignupView,
            reverse("api-create-account"): CreateAccountView,
        }
        super().__init__(*args, **kwargs)

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware, self._template_response_middleware = [], []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(fast_path_middleware()):
            handler = convert_exception_to_response(import_string(path)(handler))
        self._middleware_chain = handler

    def _get_response(self, request):
        return signup_view(request, self.routes[request.path_info])


class SignupHandler(SignupChain, WSGIHandler):
    pass


def fast_path_middleware() -> list[str]:
    return [path for path in settings.MIDDLEWARE if path not in INERT_FOR_SIGNUP]


def with_signup_fast_path(django_app):
    """The project's WSGI application, with the signup fast path in front unless
    SIGNUP_FAST_PATH is off."""
    if not getattr(settings, "SIGNUP_FAST_PATH", True):
        return django_app
    fast = SignupHandler()

    def application(environ, start_response):
        if takes(environ, fast.routes):
            return fast(environ, start_response)
        return django_app(environ, start_response)

    return application
