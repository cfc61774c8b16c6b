# fpdjango's production image: gunicorn started by bin/serve, the same script as outside
# containers (docs/deployment.md, "Containers and monitoring"). The Celery worker and beat run
# from this image too, with another command (compose.yaml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

# The processes run as this user; it owns only what they write (var/, staticfiles/).
RUN groupadd --system --gid 10001 fpdjango \
    && useradd --system --uid 10001 --gid fpdjango --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin fpdjango

WORKDIR /app

# The pinned packages, installed by bin/setup into .venv as on any host. Its stamp file names a
# hash of requirements*.txt, so bin/serve's own bin/setup finds it at start and installs
# nothing. A layer of its own: rebuilt only when the requirements change.
COPY requirements*.txt ./
COPY bin/setup bin/setup
RUN bin/setup

COPY . .

# Static files collected at build time (WhiteNoise's manifest). Settings need a secret key to
# load; this one exists only for this command and is not in the image's environment.
RUN DJANGO_SECRET_KEY=collectstatic-at-build-time-only-not-a-secret-9f3Kq7WzX2mB5nR8tV1cY4hJ6 \
    .venv/bin/python manage.py collectstatic --no-input -v 0 \
    && mkdir -p var \
    && chown -R fpdjango:fpdjango var staticfiles

USER fpdjango
ENV PATH=/app/.venv/bin:$PATH

EXPOSE 8000
# bin/serve: check --deploy, migrate, collectstatic (quick: the files are there), then gunicorn
# with fpdjango/gunicorn.conf.py. Its bind is loopback, for a proxy on the same host; here the
# proxy is another container, so gunicorn listens on the container's network (not published:
# only nginx reaches it, compose.yaml). More gunicorn options: GUNICORN_CMD_ARGS.
CMD ["bin/serve", "--bind", "0.0.0.0:8000"]
