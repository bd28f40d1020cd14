# The RenderLite platform image used by docker-compose.yml (dashboard + API, or the worker).
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends git nodejs npm ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/renderlite
COPY pyproject.toml ./
COPY . .
RUN pip install --no-cache-dir -e . && mkdir -p .tools && cd .tools && npm install --no-audit --no-fund node@22
ENV PATH=/srv/renderlite/.tools/node_modules/.bin:$PATH REFLEX_USE_NPM=1 RENDERLITE_DATA_DIR=/data
EXPOSE 3000
CMD ["sh", "-c", "python -m cli migrate && reflex run --env prod"]
