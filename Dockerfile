# InvoiceFlow: one image for every process of the reference stack (docker-compose.yml).
#
#   api        python -m api             (the default command)
#   worker     python -m worker
#   sandbox    python -m sandbox         (provider sandbox + SMTP mail catcher)
#   migrations invoiceflow db upgrade
#
# Configuration comes from INVOICEFLOW_* (and SANDBOX_*) environment variables; nothing
# secret is baked into the image (.env files are excluded by .dockerignore).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, in their own layer: they are the pinned list in pyproject.toml
# ([project] dependencies, not the dev extras), so the layer is rebuilt only when
# pyproject.toml changes, not on every source edit.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself (its dependencies are already installed above).
COPY . .
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info

# Run as an unprivileged user. /app/.data is the only place the processes write to
# (the sandbox's state); the compose file mounts a volume there.
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin invoiceflow \
    && mkdir -p /app/.data \
    && chown invoiceflow:invoiceflow /app/.data
USER invoiceflow

# api, sandbox HTTP, sandbox SMTP
EXPOSE 8000 8025 2525

CMD ["python", "-m", "api"]
