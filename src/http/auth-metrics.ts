import { Gauge, type Registry } from 'prom-client';
import type { Authenticator } from './auth.js';

/** The API's authentication state on /metrics, read at scrape time. */
export function registerAuthMetrics(registry: Registry, auth: Pick<Authenticator, 'stats'>): void {
  new Gauge({
    name: 'switchboard_api_key_cache_entries',
    help: 'Tenant API key lookups cached (found and not found); bounded by the cache capacity',
    registers: [registry],
    collect() {
      this.set(auth.stats().cachedKeys);
    },
  });
  new Gauge({
    name: 'switchboard_api_rate_limited_total',
    help: 'Tenant API requests answered 429 by the per-tenant rate limit',
    registers: [registry],
    collect() {
      this.set(auth.stats().rateLimited);
    },
  });
}
