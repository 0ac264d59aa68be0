# kernel-status-bot image: multi-stage, non-root, data on /data, health on /healthz.
# Node 26 is the current LTS and inside better-sqlite3 12's supported range (20.x–26.x).
ARG NODE_VERSION=26.12.1
ARG NODE_IMAGE=node:${NODE_VERSION}-bookworm-slim

# --- build: compile TypeScript with the dev dependencies ---
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
COPY src/vendor ./src/vendor
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY commands ./commands
RUN npx tsc -p tsconfig.build.json

# --- deps: production dependencies only; better-sqlite3 is compiled against the image's own Node headers ---
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false npm_config_nodedir=/usr/local
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY src/vendor ./src/vendor
RUN npm ci --omit=dev --ignore-scripts \
 && npm rebuild better-sqlite3 \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"

# --- runtime ---
FROM ${NODE_IMAGE}
# V8 sizes its heap for throughput by default (a young generation of up to 48 MB, an old generation that
# grows long before it collects): for a bot whose live heap is ~40 MB that is 40 MB of RSS for nothing.
# Measured with both adapters after 1,000 messages: 165 MB RSS by default, 124 MB with these flags (README,
# Performance). Raise --max-old-space-size for a knowledge directory of many talks (see heap_mb in the bench).
# --v8-pool-size=1: one V8 worker thread instead of four; each worker's malloc arena kept ~7 MB of freed
# compiler and GC memory, ~30 MB RSS with Matrix encryption after 1,000 messages (README, Performance).
ENV NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=256 --v8-pool-size=1"
ENV NODE_ENV=production \
    DATA_DIR=/data \
    KNOWLEDGE_DIR=/app/knowledge \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080
WORKDIR /app
RUN mkdir -p /data && chown node:node /data
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/src/vendor ./src/vendor
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY knowledge ./knowledge
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node directly (not npm): signals reach the bot and its exit code is the container's.
CMD ["node", "dist/src/main.js"]
