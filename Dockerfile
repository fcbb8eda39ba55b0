# One image for every service: `python -m followup.<service>.main` picks which.
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /usr/local/bin/uv
WORKDIR /app
ENV UV_PROJECT_ENVIRONMENT=/app/.venv UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
RUN uv sync --frozen --all-packages --no-dev

FROM python:3.11-slim
RUN useradd --system --uid 10001 followup
WORKDIR /app
COPY --from=build /app /app
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1
USER followup
ARG SERVICE=scheduling
ENV FOLLOWUP_SERVICE=${SERVICE}
CMD ["sh", "-c", "exec python -m followup.${FOLLOWUP_SERVICE}.main"]
