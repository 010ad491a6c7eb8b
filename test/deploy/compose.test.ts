/**
 * deploy/docker-compose.yml checked without Docker: the file fits the Compose schema this repo uses, every
 * dependency, bind mount and build context exists, each Switchboard service's environment passes the
 * server's own config schema, and the Kamailio layout agrees with deploy/kamailio/dispatcher.list (the
 * file it mounts): one line per instance, at the instance's network address and SIP port.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { loadConfig } from '../../src/config/config.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const GRACE_MARGIN_S = { min: 10, max: 120 };
/** What an operator exports (the file's `${VAR:?}` variables); anything else missing fails the test. */
const SAMPLE_ENV: Record<string, string> = {
  PUBLIC_IP: '203.0.113.10',
  MASTER_KEY: Buffer.alloc(32, 9).toString('base64'),
  ADMIN_TOKEN: 'compose-admin-token-0123456789',
  DRACHTIO_SECRET: 'drachtio-secret',
};

/** Compose interpolation (`${V}`, `${V:-default}`, `${V:?error}`, `$$`) with SAMPLE_ENV as the shell. */
function interpolate(text: string): string {
  return text.replace(
    /\$\$|\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}/g,
    (all, name?: string, op?: string, arg?: string) => {
      if (all === '$$') return '$$'; // left for the container's shell
      const value = SAMPLE_ENV[name!];
      if (value !== undefined && value !== '') return value;
      if (op === ':?' || op === '?')
        throw new Error(`required variable ${name} (${arg}) has no sample value`);
      return op === ':-' || op === '-' ? (arg ?? '') : '';
    },
  );
}

const envMap = z.record(z.string(), z.union([z.string(), z.number()]).transform(String));
const serviceSchema = z
  .object({
    profiles: z.array(z.string()).optional(),
    image: z
      .string()
      .regex(/:[\w.-]+$/, 'an image with a tag')
      .refine((i) => !i.endsWith(':latest'), 'a pinned tag, not :latest (issue 19)')
      .optional(),
    build: z.object({ context: z.string() }).strict().optional(),
    restart: z.enum(['no', 'always', 'on-failure', 'unless-stopped']).optional(),
    stop_grace_period: z
      .string()
      .regex(/^\d+s$/)
      .optional(),
    command: z.array(z.string()).optional(),
    environment: envMap.optional(),
    depends_on: z
      .record(z.string(), z.object({ condition: z.enum(['service_started', 'service_healthy']) }).strict())
      .optional(),
    ports: z.array(z.string()).optional(),
    networks: z
      .union([z.array(z.string()), z.record(z.string(), z.object({ ipv4_address: z.ipv4() }).strict())])
      .optional(),
    volumes: z.array(z.string()).optional(),
    healthcheck: z
      .object({
        test: z.array(z.string()).min(2),
        interval: z.string(),
        timeout: z.string(),
        retries: z.number().int(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((s) => (s.image === undefined) !== (s.build === undefined), 'image or build');
const composeSchema = z
  .object({
    name: z.string(),
    services: z.record(z.string(), serviceSchema),
    networks: z
      .record(z.string(), z.object({ ipam: z.object({ config: z.array(z.object({ subnet: z.string() })) }) }))
      .optional(),
    volumes: z.record(z.string(), z.null()).optional(),
  })
  .passthrough();
type Service = z.output<typeof serviceSchema>;

// Compose parses the YAML first and interpolates the values (comments are not interpolated).
const interpolateAll = (v: unknown): unknown =>
  typeof v === 'string'
    ? interpolate(v)
    : Array.isArray(v)
      ? v.map(interpolateAll)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateAll(x)]))
        : v;
const raw = interpolateAll(
  parseYaml(readFileSync(join(DEPLOY, 'docker-compose.yml'), 'utf8'), { merge: true }),
) as Record<string, unknown>;
const compose = composeSchema.parse(
  Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('x-'))),
);
const services = Object.entries(compose.services);
const isSwitchboard = (s: Service): boolean => s.build !== undefined;
const profileOf = (s: Service): string | undefined => s.profiles?.[0];
const env = (s: Service): Record<string, string> => s.environment ?? {};

/** Published `a-b:a-b/udp` ranges → [a, b]. */
function udpRanges(s: Service): Array<[number, number]> {
  return (s.ports ?? [])
    .filter((p) => p.endsWith('/udp'))
    .map((p) => {
      const m = /^(\d+)(?:-(\d+))?:(\d+)(?:-(\d+))?\/udp$/.exec(p);
      if (m === null) throw new Error(`port ${p}`);
      expect(`${m[1]}-${m[2] ?? m[1]}`, `${p}: host and container ports differ`).toBe(
        `${m[3]}-${m[4] ?? m[3]}`,
      );
      return [Number(m[1]), Number(m[2] ?? m[1])] as [number, number];
    });
}

describe('deploy/docker-compose.yml', () => {
  it('has the drachtio layout and the Kamailio + 2 Switchboard + Redis layout', () => {
    const byProfile = (p: string | undefined): string[] =>
      services
        .filter(([, s]) => profileOf(s) === p)
        .map(([n]) => n)
        .sort();
    expect(byProfile(undefined)).toEqual(['redis']);
    expect(byProfile('drachtio')).toEqual(['drachtio', 'switchboard']);
    expect(byProfile('kamailio')).toEqual(['kamailio', 'switchboard-a', 'switchboard-b']);
  });

  it('dependencies exist, share the profile, and wait for a health check where they ask to', () => {
    for (const [name, s] of services) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        const target = compose.services[dep];
        expect(target, `${name} depends on ${dep}`).toBeDefined();
        const p = profileOf(target!);
        expect(p === undefined || p === profileOf(s), `${name} → ${dep}: profile ${p}`).toBe(true);
        if (condition === 'service_healthy')
          expect(target!.healthcheck, `${dep} has a healthcheck`).toBeDefined();
      }
    }
  });

  it('bind mounts and build contexts point at files in the repository; named volumes are declared', () => {
    for (const [name, s] of services) {
      if (s.build !== undefined)
        expect(existsSync(join(resolve(DEPLOY, s.build.context), 'Dockerfile')), `${name} build`).toBe(true);
      for (const v of s.volumes ?? []) {
        const [source] = v.split(':');
        if (source!.startsWith('.'))
          expect(existsSync(resolve(DEPLOY, source!)), `${name}: ${source}`).toBe(true);
        else expect(Object.keys(compose.volumes ?? {}), `${name}: volume ${source}`).toContain(source);
      }
      for (const n of Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {}))
        expect(Object.keys(compose.networks ?? {}), `${name}: network ${n}`).toContain(n);
    }
  });

  it('every Switchboard service: settings pass the config schema, RTP published as configured, grace covers the drain', () => {
    const switchboards = services.filter(([, s]) => isSwitchboard(s));
    expect(switchboards).toHaveLength(3);
    for (const [name, s] of switchboards) {
      const config = loadConfig(env(s));
      expect(config.REDIS_URL, name).toBe('redis://redis:6379/0');
      expect(udpRanges(s), `${name}: published RTP`).toEqual([[config.RTP_PORT_MIN, config.RTP_PORT_MAX]]);
      const graceS = Number(s.stop_grace_period?.slice(0, -1));
      expect(
        graceS - config.DRAIN_TIMEOUT_S,
        `${name}: stop_grace_period − DRAIN_TIMEOUT_S`,
      ).toBeGreaterThanOrEqual(GRACE_MARGIN_S.min);
      expect(graceS - config.DRAIN_TIMEOUT_S).toBeLessThanOrEqual(GRACE_MARGIN_S.max);
      expect(s.volumes).toContain('../dialplans:/app/dialplans:ro');
    }
  });

  describe('kamailio layout', () => {
    const kamailio = compose.services.kamailio!;
    const instances = services.filter(([, s]) => isSwitchboard(s) && profileOf(s) === 'kamailio');
    const addressOf = (s: Service): string | undefined =>
      Array.isArray(s.networks) ? undefined : s.networks?.sip?.ipv4_address;

    it('Kamailio runs the shipped kamailio.cfg and listens on its own network address', () => {
      const cmd = kamailio.command ?? [];
      const cfgMount = kamailio.volumes?.find((v) => v.startsWith('./kamailio/kamailio.cfg:'));
      expect(cfgMount?.split(':')[1]).toBe(cmd[cmd.indexOf('-f') + 1]);
      const listMount = kamailio.volumes?.find((v) => v.startsWith('./kamailio/dispatcher.list:'));
      expect(cmd).toContain(`DISPATCHER_LIST="${listMount?.split(':')[1]}"`);
      expect(cmd).toContain(`LISTEN=udp:${addressOf(kamailio)}:5060`);
      const subnet = compose.networks?.sip?.ipam.config[0]?.subnet ?? '';
      const prefix = subnet.split('.').slice(0, 3).join('.');
      for (const [, s] of [['kamailio', kamailio] as const, ...instances])
        expect(addressOf(s)?.startsWith(`${prefix}.`)).toBe(true);
    });

    it("the mounted dispatcher.list names exactly the instances, at each one's address, SIP port and Contact", () => {
      const lines = readFileSync(join(DEPLOY, 'kamailio/dispatcher.list'), 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith('#'));
      const destinations = lines.map((l) => /^1 sip:([\d.]+):(\d+) /.exec(l)?.slice(1, 3).join(':'));
      const expected = instances.map(([, s]) => {
        const config = loadConfig(env(s));
        // In-dialog requests target the Contact: it must name the address Kamailio dispatches to.
        expect(config.SIP_PUBLIC_HOST).toBe(addressOf(s));
        return `${addressOf(s)}:${config.SIP_PORT}`;
      });
      expect(destinations.sort()).toEqual(expected.sort());
    });

    it('instances have distinct identities, HTTP host ports and non-overlapping RTP ranges', () => {
      const configs = instances.map(([, s]) => loadConfig(env(s)));
      expect(new Set(configs.map((c) => c.INSTANCE_ID)).size).toBe(instances.length);
      const http = instances.flatMap(([, s]) =>
        (s.ports ?? []).filter((p) => p.endsWith('/tcp')).map((p) => p.split(':').slice(0, -1).join(':')),
      );
      expect(new Set(http).size).toBe(instances.length);
      const ranges = configs
        .map((c) => [c.RTP_PORT_MIN, c.RTP_PORT_MAX] as const)
        .sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1]);
      for (const c of configs)
        expect(c.SIP_MEDIA_HOST, 'SDP names the public address').toBe(SAMPLE_ENV.PUBLIC_IP);
    });
  });
});
