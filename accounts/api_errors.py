"""Every API error has the same machine-readable shape.

    {"code": "invalid_input", "message": "...", "errors": {"field": [{"code", "message"}]}}

`code` is stable and documented (docs/api.md); `message` is for humans and may change.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)
RETRY_AFTER_S = 5  # a temporary failure's 503 (database, or Fingerprint under policy deny)

_TOP_LEVEL_CODES = {
    exceptions.ParseError: "parse_error",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.Throttled: "throttled",
    exceptions.NotFound: "not_found",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotAuthenticated: "not_authenticated",
}


def exception_handler(exc, context):
    if isinstance(exc, OperationalError | InterfaceError):
        # PostgreSQL restarting, failing over or refusing connections, a connection killed:
        # a temporary failure of ours, said as one (each request's transactions are all or
        # nothing, so a retry starts clean). Constraint and data errors are not these.
        logger.error("temporary database failure during %s: %s", context["request"].path, exc)
        return Response(
            {
                "code": "database_unavailable",
                "message": "We could not process this right now. Try again shortly.",
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    # Django's own two, as DRF's handler reads them (`?format=xml` raises Http404): without
    # this, building the body from `exc.detail` failed with a 500.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API exception: Django's 500 handling (should never happen)
    if isinstance(exc, exceptions.ValidationError):
        details = exc.get_full_details()
        if not isinstance(details, dict):
            details = {"non_field_errors": details}
        response.data = {
            "code": "invalid_input",
            "message": "Some fields are missing or invalid.",
            "errors": {field: _flatten(errors) for field, errors in details.items()},
        }
        response.status_code = status.HTTP_400_BAD_REQUEST
        return response
    code = next(
        (value for cls, value in _TOP_LEVEL_CODES.items() if isinstance(exc, cls)),
        getattr(exc, "default_code", "error"),
    )
    return Response(
        {"code": code, "message": str(exc.detail)},
        status=response.status_code,
        headers=dict(response.items()),
    )


def _flatten(errors) -> list[dict]:
    if isinstance(errors, dict) and "code" in errors and "message" in errors:
        return [{"code": errors["code"], "message": str(errors["message"])}]
    if isinstance(errors, list):
        return [item for error in errors for item in _flatten(error)]
    if isinstance(errors, dict):  # nested serializer
        return [item for error in errors.values() for item in _flatten(error)]
    return [{"code": "invalid", "message": str(errors)}]
