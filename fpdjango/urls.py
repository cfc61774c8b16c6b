from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from accounts import pages
from fpdjango import health, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("accounts.urls")),
    path("api/", include("risk.urls")),
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("signup", pages.signup_page, name="signup"),
]
