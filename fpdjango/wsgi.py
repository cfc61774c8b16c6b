import os

from django.core.wsgi import get_wsgi_application

from fpdjango.charsets import reject_unreadable_charsets

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fpdjango.settings")
application = reject_unreadable_charsets(get_wsgi_application())

# A production process that would talk to a sandbox, send the secret key over plain http or
# sign with a weak SECRET_KEY does not start (risk/checks.py).
from risk.checks import refuse_unsafe_production  # noqa: E402  (needs Django set up)

refuse_unsafe_production()
