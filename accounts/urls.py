from django.urls import path

from accounts import views

urlpatterns = [
    path("signup", views.SignupView.as_view(), name="api-signup"),
    path("create-account", views.CreateAccountView.as_view(), name="api-create-account"),
]
