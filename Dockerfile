# syntax=docker/dockerfile:1
# Build stage: compiles TypeScript; @discordjs/opus installs its prebuilt addon or, when none fits, compiles
# it here (node-pre-gyp --fallback-to-build). No npm_config_build_from_source: npm 11 warns on unknown config.
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build

# Production dependencies, built in the build stage (it has the compiler), copied into the runtime stage.
FROM build AS prod-deps
RUN npm prune --omit=dev

# Runtime stage: no compiler, no npm install; non-root.
FROM node:20-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY dialplans ./dialplans
COPY prompts ./prompts
RUN mkdir -p /app/data /app/recordings && chown -R node:node /app/data /app/recordings
USER node
EXPOSE 5060/udp 5060/tcp 8080/tcp 20000-30000/udp
# Ready = SIP and HTTP up and not draining (GET /readyz answers 200); HTTP_PORT as configured (default 8080).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/cli.js", "serve"]
