# Two stages: the build stage installs the project (not editable) into a virtualenv; the image
# that runs gets that virtualenv alone, without pip's caches or the build's sources.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY components ./components
COPY callbacks ./callbacks
COPY services ./services
COPY assets ./assets
RUN python -m venv /opt/engagement-conductor \
 && /opt/engagement-conductor/bin/pip install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PATH=/opt/engagement-conductor/bin:$PATH
COPY --from=build /opt/engagement-conductor /opt/engagement-conductor
RUN useradd --system --no-create-home conductor
USER conductor
WORKDIR /tmp

ENV HOST=0.0.0.0 PORT=8050
EXPOSE 8050
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health/ready', timeout=4)"
CMD ["engagement-conductor", "serve"]
