from django.urls import path

from risk import views

urlpatterns = [
    path("fingerprint/webhook", views.FingerprintWebhookView.as_view(), name="fingerprint-webhook"),
]
