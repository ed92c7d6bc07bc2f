# syntax=docker/dockerfile:1
# One image for every sealmix role (gateway, mix, ingress, directory authority): the role comes from
# the config file and the command.
#   docker build -t sealmix .
#   docker run -v sealmix-data:/data -v ./relay.yaml:/config/sealmix.yaml:ro -p 9000:9000 sealmix
# The image cannot be built in this project's CI (no Docker engine there); docs/OPERATIONS.md says
# what CI checks instead.

# Build: install everything, bundle the CLI and the unwrap worker to plain JavaScript, then keep
# production dependencies only (sodium-native and bufferutil are prebuilt native modules).
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the package's prepare script builds the bundle, and the sources are not here yet
# (the native modules load their prebuilt binaries without install scripts).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY mix ./mix
COPY daemon ./daemon
COPY client ./client
COPY tools ./tools
COPY cli ./cli
# The commit to stamp into the bundle (the sources are copied without .git):
#   docker build --build-arg SEALMIX_COMMIT=$(git rev-parse --short HEAD) .
ARG SEALMIX_COMMIT=
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="sealmix" \
      org.opencontainers.image.description="Metadata-hiding mixnet relay: Sphinx packets, sealed-sender envelopes, batching mixes over WebSockets" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/sealmix/sealmix"
# tini as PID 1: forwards SIGTERM/SIGINT to node (graceful shutdown) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sealmix \
 && useradd --system --uid 10001 --gid sealmix --home-dir /data --shell /usr/sbin/nologin sealmix \
 && mkdir -p /data /config \
 && chown sealmix:sealmix /data
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/package.json ./package.json
ENV NODE_ENV=production
USER 10001:10001
VOLUME ["/data"]
# 9000: WebSocket listener (relays) ; 8090: ingress client API ; 8700: directory authority ;
# 9464/9465/9466: metrics and health (relay, ingress, authority).
EXPOSE 9000 8090 8700 9464 9465 9466
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.SEALMIX_HEALTH_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/sealmix.mjs"]
CMD ["run", "--config", "/config/sealmix.yaml"]
