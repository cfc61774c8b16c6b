import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fpdjango.settings")
application = get_wsgi_application()

# The two signup endpoints' plain requests skip the middleware and DRF layers that do nothing
# for them (accounts/fast_path.py; SIGNUP_FAST_PATH=0 turns it off). Imported after Django is
# set up: it resolves the endpoints' URLs.
from accounts.fast_path import with_signup_fast_path  # noqa: E402

application = with_signup_fast_path(application)
