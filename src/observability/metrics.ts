import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

/**
 * One registry per process, created in main.ts and injected; modules register their own metrics on it.
 * Tests create their own registries so counts never leak between them.
 */
export function createMetricsRegistry(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics === true) collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
  return registry;
}

/** Get-or-create a counter, so two components sharing a registry never register one name twice. */
export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) return existing as Counter<L>;
  return new Counter<L>({ name, help, labelNames, registers: [registry] });
}

/**
 * Every series of `registry` carries `instance="<id>"` (issue 12), so the instances of one deployment stay
 * apart once aggregated. Prometheus also sets an `instance` target label when it scrapes: without
 * `honor_labels: true` it keeps ours as `exported_instance`.
 */
export function labelInstance(registry: Registry, instanceId: string): void {
  registry.setDefaultLabels({ instance: instanceId });
}
