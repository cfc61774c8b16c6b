"""A host's own admin site (a plain django.contrib.admin AdminSite, no review site) with the
risk app's ModelAdmins registered on it, as `django.contrib.admin` in INSTALLED_APPS does."""

from django.contrib import admin
from django.urls import path

site = admin.AdminSite(name="admin")
for model, model_admin in admin.site._registry.items():
    site.register(model, type(model_admin))

urlpatterns = [path("admin/", site.urls)]
