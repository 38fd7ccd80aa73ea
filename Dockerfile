# The combined server: the public backend (port 3000) and the private face-service
# (127.0.0.1:8000, never exposed) under supervisord.
#
#   docker build -t sonta-server .             (from the repository root)
#   docker build --build-arg FACE_MODEL=buffalo_s -t sonta-server .
#
# Stages: deps (locked third-party packages: base + server extra, no dev or kiosk),
# models (the model pack, downloaded and checksum-verified here so start-up needs no
# network), app (the project itself), and the slim runtime image.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
# The face engine's packages are the base dependencies; the server extra adds the rest.
RUN uv sync --frozen --no-cache --extra server --no-install-project

FROM deps AS models
ARG FACE_MODEL=buffalo_l
# Only what `sonta face fetch` imports, so a code change elsewhere keeps this layer
# (and the downloaded pack) cached.
COPY sonta/ sonta/
COPY kiosk/ kiosk/
COPY server/__init__.py server/cli.py server/
COPY server/face_service/__init__.py server/face_service/cli.py server/face_service/
# Verifies every file's sha256 and installs atomically; a mismatch fails the build.
RUN FACE_MODEL_CACHE=/opt/models PYTHONPATH=/src \
    /opt/venv/bin/python -m sonta.cli face fetch "${FACE_MODEL}"

FROM deps AS app
COPY . .
RUN uv sync --frozen --no-cache --extra server --no-editable

FROM ${PYTHON_IMAGE}
ARG FACE_MODEL=buffalo_l
# OpenCV (pulled in by the face engine) needs these two system libraries.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 sonta \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin sonta
COPY --from=app /opt/venv /opt/venv
COPY --from=models /opt/models /opt/models
WORKDIR /app
COPY supervisord.conf ./
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/home/sonta \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production \
    PORT=3000 \
    FACE_MODEL=${FACE_MODEL} \
    FACE_MODEL_CACHE=/opt/models \
    OMP_NUM_THREADS=2
# The unprivileged user made above (numeric, so any runtime can check it is not root).
USER 10001:10001
EXPOSE 3000
# The start period covers importing, migrating and loading the model (buffalo_l).
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '3000'), timeout=4)"]
CMD ["supervisord", "-c", "/app/supervisord.conf"]
