# syntax=docker/dockerfile:1
#
# Production image of the tasks service (see docs/deployment.md).
#   docker build -t tasks-service .
#   docker run --env-file .env -e NODE_ENV=production -p 3000:3000 tasks-service
#   migrations: docker run ... tasks-service node node_modules/typeorm/cli.js -d dist/ormconfig.js migration:run
#
# Node 22: several production dependencies declare it (nestjs-pino >=22.12, cookie and file-type
# >=22; typeorm ^22.13 on that line), although the code also runs on 20.19+ (CI's Node; see the
# README's "Node versions"). Pin a patch version or a digest in your registry mirror for
# reproducible builds.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: every dependency, TypeScript compiled to dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install script is needed to compile. Skipping them also means the image does not depend on
# npm 11's "allowScripts" policy in package.json, which older npm releases ignore (they would run
# every script, @scarf/scarf's telemetry included).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ormconfig.ts ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

# ---- production dependencies only ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional leaves out embedded-postgres' PostgreSQL binaries (about 60 MB): the embedded
# server is for development and tests, and production requires DATABASE_URL. The package itself
# stays (it is imported, and loads its binaries only when started). No production dependency
# needs an install script.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
# Files stay owned by root: the service cannot modify its own code or dependencies.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The base image's `node` user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 3000
# `node` directly rather than `npm start`: node receives SIGTERM itself (the graceful shutdown in
# src/main.ts) and npm writes nothing to a read-only file system. Same command as `start:prod`:
# the old-space cap keeps the resident set under load near 160 MB instead of V8's lazy growth to
# about 280 MB (bench/RESULTS.md, "What each lever did").
CMD ["node", "--max-old-space-size=160", "dist/src/main.js"]
