# syntax=docker/dockerfile:1
# Build stage: compiles TypeScript and the @discordjs/opus native addon from source.
FROM node:20-bookworm AS build
WORKDIR /app
ENV npm_config_build_from_source=true
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build

# Runtime stage: production dependencies only, non-root.
FROM node:20-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production
ENV npm_config_build_from_source=true
COPY package.json package-lock.json .npmrc ./
# The opus addon compiles from source; the toolchain is removed again in the same layer.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && npm ci --omit=dev && npm cache clean --force \
 && apt-get purge -y python3 make g++ && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
COPY --from=build /app/dist ./dist
COPY dialplans ./dialplans
COPY prompts ./prompts
RUN mkdir -p /app/data /app/recordings && chown -R node:node /app/data /app/recordings
USER node
EXPOSE 5060/udp 5060/tcp 8080/tcp 20000-30000/udp
CMD ["node", "dist/src/cli.js", "serve"]
