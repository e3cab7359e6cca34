# The bridge's one image: `docker run IMAGE api` (default) or `docker run IMAGE worker`.
# Debian (glibc), not Alpine: the Temporal SDK's native core is not built for musl.
FROM node:20.19.5-bookworm-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false

WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only; tsx (a dependency) runs the TypeScript sources directly.
RUN npm ci --omit=dev --no-audit && npm cache clean --force
# Owned by root and read-only for the service user.
COPY . .
# The workflow bundle, built once here: a worker starts from it in about a second instead of
# bundling at every start, and refuses it if the sources beside it are not the ones it came from.
RUN npm run build
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js

USER node
# API (http.port), worker metrics and /health (metrics.workerPort), Temporal SDK metrics.
EXPOSE 8000 9464 9465

# Checks the API; the worker service overrides it with its metrics port (docker-compose.yml).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["npm", "run", "--silent"]
CMD ["api"]
