FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/engagement-conductor
COPY pyproject.toml README.md ./
COPY app ./app
COPY components ./components
COPY callbacks ./callbacks
COPY services ./services
COPY assets ./assets
# Editable, so the app finds assets/ beside its packages.
RUN pip install -e . && useradd --system --no-create-home conductor
USER conductor

ENV HOST=0.0.0.0 PORT=8050
EXPOSE 8050
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health/ready', timeout=4)"
CMD ["engagement-conductor", "serve"]
