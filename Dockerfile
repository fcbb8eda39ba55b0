# One image for every service: `python -m followup.<service>.main` picks which.
# Bases pinned to exact releases; the dependency layer is built from the lock file and the
# members' pyproject.toml only, so a source change reuses it.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
FROM ghcr.io/astral-sh/uv:0.13.8 AS uv

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
WORKDIR /app
ENV UV_PROJECT_ENVIRONMENT=/app/.venv UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
COPY pyproject.toml uv.lock ./
COPY libs/events/pyproject.toml libs/events/
COPY libs/calendar/pyproject.toml libs/calendar/
COPY libs/core/pyproject.toml libs/core/
COPY services/scheduling/pyproject.toml services/scheduling/
COPY services/visits/pyproject.toml services/visits/
COPY services/issues/pyproject.toml services/issues/
COPY services/analytics/pyproject.toml services/analytics/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --all-packages --no-dev --no-install-workspace
COPY libs libs
COPY services services
COPY infra/kafka_admin.py infra/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --all-packages --no-dev

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 followup && useradd --system --uid 10001 --gid 10001 followup
WORKDIR /app
COPY --from=build /app /app
# Containers listen on every interface; bytecode was compiled at build (read-only root fs).
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 FOLLOWUP_HOST=0.0.0.0
USER 10001:10001
ARG SERVICE=scheduling
ENV FOLLOWUP_SERVICE=${SERVICE}
CMD ["sh", "-c", "exec python -m followup.${FOLLOWUP_SERVICE}.main"]
