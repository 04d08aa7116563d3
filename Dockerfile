# The subventio image: one image, two roles (API and workers), chosen by the command.
#   docker build -t subventio .
#   docker run --rm subventio subventio --help
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# What setup.cfg packages: README.md (long_description), the subventio module, and the packages
# (tests/unit/test_compose.py checks this list against setup.cfg).
COPY pyproject.toml setup.cfg README.md subventio.py ./
COPY domain ./domain
COPY projections ./projections
COPY api ./api
COPY workers ./workers
COPY demo ./demo
RUN pip install .

# An unprivileged user; the data directory (attachments under blobs/) is a volume in docker-compose.yml.
RUN useradd --system --uid 10001 --home-dir /var/lib/subventio --shell /usr/sbin/nologin subventio \
    && mkdir -p /var/lib/subventio \
    && chown subventio /var/lib/subventio
ENV SUBVENTIO_DATA_DIR=/var/lib/subventio
WORKDIR /var/lib/subventio
USER subventio

EXPOSE 8000
CMD ["subventio", "serve", "--host", "0.0.0.0", "--port", "8000"]
