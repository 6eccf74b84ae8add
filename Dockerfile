# sellout as a container image: the CLI as its entrypoint, for load agents on Kubernetes
# (deploy/k8s/, docs/distributed.md) or any other container runner. No Redis inside: give
# every command --redis URL.
#
#   docker build -t ghcr.io/your-org/sellout:0.1.0 .
#   docker run --rm ghcr.io/your-org/sellout:0.1.0 validate scenarios/smoke.yaml
#
# Reports go to /reports by convention (collect --out /reports/<run ID>): mount a volume there.

# --- build: compile TypeScript to dist/ (needs the dev dependencies) ---
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: package.json's `prepare` would run the build before the sources are copied.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY src/ src/
RUN npm run build

# --- runtime: the compiled CLI and its runtime dependencies only ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional drops testcontainers (`--redis docker`, which needs a Docker engine the pod does
# not have); --ignore-scripts skips `prepare` (the build, done above) and every install script.
RUN npm ci --no-audit --no-fund --omit=dev --omit=optional --ignore-scripts \
 && npm cache clean --force
COPY bin/ bin/
COPY lua/ lua/
COPY scenarios/ scenarios/
# Load workers run compiled JS from /app/dist/src (found from /app/package.json).
COPY --from=build /src/dist/src/ dist/src/
RUN mkdir -p /reports && chown node:node /reports
# The node user of the official image (uid 1000); the files stay root's, read-only to it.
USER node
ENTRYPOINT ["node", "/app/bin/sellout.js"]
CMD ["--help"]
