# Infinite Lanes — a slim, non-root image. Build: docker build -t infinite-lanes .
# Run: docker run -p 8000:8000 infinite-lanes   (PORT, WORKERS and every LANES_* setting from the environment)

FROM python:3.11.7-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.txt /tmp/requirements.txt
# Binary wheels only: nothing is compiled, so the final stage needs no build tools.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: -r /tmp/requirements.txt

FROM python:3.11.7-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANES_HOST=0.0.0.0 \
    PORT=8000 \
    WORKERS=2
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin lanes
WORKDIR /srv
COPY --from=build /opt/venv /opt/venv
COPY app ./app
COPY static ./static
COPY templates ./templates
COPY vendor ./vendor
# Every scenario's results, saved at build time (~10 s): the page falls back to them when the API cannot answer.
RUN python -m app export /srv/site > /dev/null
ENV LANES_FALLBACK_DIR=/srv/site/data
# Finished experiments, kept for every worker and across restarts (app/api/store.py): a SQLite file in a volume.
RUN mkdir -p /srv/var && chown 10001 /srv/var
ENV LANES_STORE_URL=sqlite:/srv/var/results.sqlite3
VOLUME /srv/var
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]
# On SIGTERM the server stops listening (new clients are refused), drains open requests for up to 30 s, then exits.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "app", "serve"]
