# The worker, bootstrap and gallery image used by docker-compose.yml.
# It runs the TypeScript sources with tsx, exactly as `npm run …` does on a laptop: no build step.

# Debian (glibc), not Alpine: sharp's prebuilt libvips for linux-x64 and linux-arm64 is in the
# lockfile as optional dependencies, and npm picks the one for the platform the build runs on.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only: the `node` devDependency (the project's own Node for laptops) and
# the test tooling stay out; the base image brings Node 24.
RUN npm ci --omit=dev --no-audit --no-fund \
  && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# `npm run` starts scripts through a shell; the long-running scripts `exec` node (package.json), so
# `docker stop` → tini → npm → the worker, which then finishes what it holds. bash as npm's
# script shell keeps that true for a script without `exec` too (bash execs a lone command).
# MALLOC_ARENA_MAX=2: fewer glibc malloc arenas for libvips' threads, lower peak memory
# (measured with npm run bench).
ENV NODE_ENV=production \
  MALLOC_ARENA_MAX=2 \
  NPM_CONFIG_SCRIPT_SHELL=/bin/bash \
  NPM_CONFIG_UPDATE_NOTIFIER=false \
  NPM_CONFIG_FUND=false
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY bootstrap ./bootstrap
COPY worker ./worker
COPY web ./web
# Root owns the code and the unprivileged `node` user (uid 1000, from the base image) runs it:
# a compromised decoder cannot rewrite the application.
USER node
CMD ["npm", "run", "worker"]
