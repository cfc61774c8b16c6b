"""GET /metrics: Prometheus exposition, for the scraper only.

With METRICS_TOKEN set it requires `Authorization: Bearer <token>`; with no token it answers
404, as if it did not exist (a public endpoint would tell bots how they are doing).
"""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from risk.observability import metrics_exposition


@require_GET
def metrics(request):
    token = getattr(settings, "METRICS_TOKEN", "")
    if not token:
        raise Http404
    sent = request.headers.get("Authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return HttpResponse(
            "unauthorized\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)
