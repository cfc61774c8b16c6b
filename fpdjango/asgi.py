import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fpdjango.settings")
application = get_asgi_application()

# The same refusal as fpdjango/wsgi.py (risk/checks.py).
from risk.checks import refuse_unsafe_production  # noqa: E402  (needs Django set up)

refuse_unsafe_production()
