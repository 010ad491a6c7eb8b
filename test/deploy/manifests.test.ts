/**
 * deploy/kubernetes/ checked without a cluster: every manifest parses and fits the Kubernetes schema of its
 * kind (k8s-schema.ts), and the manifests agree with each other and with the server — selectors match pod
 * labels, referenced ConfigMaps/Secrets/keys/ports/volumes exist, the Switchboard settings pass the server's
 * own config schema, the dialplans ConfigMap passes the dialplan schema, the drain timings fit, and
 * Kamailio's dispatcher.list names exactly the StatefulSet's pods.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { loadConfig } from '../../src/config/config.js';
import { dialplanSchema } from '../../src/routing/dialplan.js';
import {
  KINDS,
  kustomizationSchema,
  metadataSchema,
  type Container,
  type Kind,
  type PodTemplate,
} from './k8s-schema.js';

const DIR = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
/** What a drained instance may still need after DRAIN_TIMEOUT_S: the goodbye prompt and BYEs, exit. */
const GRACE_MARGIN_S = { min: 10, max: 120 };

interface K8sObject {
  readonly file: string;
  readonly kind: Kind;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly labels: Record<string, string>;
  readonly raw: any;
}

function loadObjects(): K8sObject[] {
  const out: K8sObject[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const raw = doc.toJS();
      const where = `${file}: ${raw?.kind}/${raw?.metadata?.name}`;
      if (!(raw?.kind in KINDS)) throw new Error(`${where}: kind not expected here`);
      const kind = raw.kind as Kind;
      if (raw.apiVersion !== KINDS[kind].apiVersion)
        throw new Error(`${where}: apiVersion ${raw.apiVersion}, expected ${KINDS[kind].apiVersion}`);
      const meta = metadataSchema.safeParse(raw.metadata);
      const body = KINDS[kind].body.safeParse(raw);
      for (const r of [meta, body]) if (!r.success) throw new Error(`${where}: ${z.prettifyError(r.error)}`);
      out.push({
        file,
        kind,
        name: raw.metadata.name,
        namespace: raw.metadata.namespace,
        labels: raw.metadata.labels ?? {},
        raw,
      });
    }
  }
  return out;
}

const objects = loadObjects();
const kustomization = kustomizationSchema.parse(
  parseYaml(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')),
);
const find = (kind: Kind, name: string): K8sObject | undefined =>
  objects.find((o) => o.kind === kind && o.name === name);
const workloads = objects.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment');
const template = (w: K8sObject): PodTemplate => w.raw.spec.template as PodTemplate;
const matches = (selector: Record<string, string>, podLabels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => podLabels[k] === v);

/** ConfigMap names that exist once kustomize has run: the manifests' and the generator's. */
const configMaps = new Set([
  ...objects.filter((o) => o.kind === 'ConfigMap').map((o) => o.name),
  ...(kustomization.configMapGenerator ?? []).map((g) => g.name),
]);
const generatedKeys = (name: string): string[] =>
  (kustomization.configMapGenerator ?? []).find((g) => g.name === name)?.files.map((f) => f.split('=')[0]!) ??
  [];

/** The container's environment as the kubelet would build it, with sample values for the downward API and Secrets. */
function containerEnv(c: Container, podName: string): Record<string, string> {
  const env: Record<string, string> = {};
  const downward: Record<string, string> = { 'status.podIP': '10.1.2.3', 'metadata.name': podName };
  for (const e of c.env ?? []) {
    let value: string;
    if (e.value !== undefined) {
      // $(VAR) expands only variables defined earlier in the list (Kubernetes EnvVar.value semantics).
      value = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, ref: string) => {
        if (env[ref] === undefined)
          throw new Error(`${c.name}: ${e.name} uses $(${ref}) before it is defined`);
        return env[ref];
      });
    } else if (e.valueFrom?.fieldRef !== undefined) {
      const v = downward[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined) throw new Error(`${c.name}: ${e.name}: unexpected fieldPath`);
      value = v;
    } else if (e.valueFrom?.secretKeyRef !== undefined) {
      const ref = e.valueFrom.secretKeyRef;
      const secret = find('Secret', ref.name);
      if (secret === undefined) throw new Error(`${c.name}: ${e.name}: Secret ${ref.name} is not defined`);
      const keys = Object.keys({ ...(secret.raw.stringData ?? {}), ...(secret.raw.data ?? {}) });
      if (!keys.includes(ref.key))
        throw new Error(`${c.name}: ${e.name}: Secret ${ref.name} has no key ${ref.key}`);
      // The Secret's placeholders are invalid on purpose; the server sees real ones.
      value =
        ref.key === 'MASTER_KEY' ? Buffer.alloc(32, 7).toString('base64') : 'sample-secret-value-0123456789';
    } else {
      throw new Error(`${c.name}: ${e.name}: unsupported valueFrom`);
    }
    env[e.name] = value;
  }
  return env;
}

function portOf(c: Container, ref: number | string): { containerPort: number; protocol: string } | undefined {
  return c.ports?.find((p) => (typeof ref === 'number' ? p.containerPort === ref : p.name === ref));
}

describe('deploy/kubernetes manifests', () => {
  it('parse as the expected kinds, all in the one namespace, each listed in the kustomization', () => {
    const ns = objects.filter((o) => o.kind === 'Namespace');
    expect(ns.map((o) => o.name)).toEqual([kustomization.namespace]);
    for (const o of objects.filter((x) => x.kind !== 'Namespace'))
      expect(o.namespace, `${o.file} ${o.kind}/${o.name}`).toBe(kustomization.namespace);
    for (const r of kustomization.resources) expect(existsSync(join(DIR, r)), r).toBe(true);
    const files = new Set(objects.map((o) => o.file));
    // The example Secret stays out: applying it would replace the real secrets with placeholders.
    expect([...files].filter((f) => !kustomization.resources.includes(f)).sort()).toEqual([
      'switchboard-secret.yaml',
    ]);
    for (const g of kustomization.configMapGenerator ?? [])
      for (const f of g.files) expect(existsSync(join(DIR, f.split('=').at(-1)!)), f).toBe(true);
    expect(new Set(objects.map((o) => o.kind))).toEqual(
      new Set([
        'Namespace',
        'ConfigMap',
        'Secret',
        'Service',
        'StatefulSet',
        'Deployment',
        'PodDisruptionBudget',
      ]),
    );
  });

  it('workloads: selectors match their pods, and every volume, mount, ConfigMap and probe port exists', () => {
    expect(workloads.map((w) => w.name).sort()).toEqual(['kamailio', 'redis', 'switchboard']);
    for (const w of workloads) {
      const t = template(w);
      expect(matches(w.raw.spec.selector.matchLabels, t.metadata.labels), `${w.name} selector`).toBe(true);
      const claims: string[] = (w.raw.spec.volumeClaimTemplates ?? []).map((c: any) => c.metadata.name);
      const volumes = new Map((t.spec.volumes ?? []).map((v) => [v.name, v]));
      for (const v of volumes.values())
        if (v.configMap !== undefined)
          expect(configMaps.has(v.configMap.name), `${w.name}: ConfigMap ${v.configMap.name}`).toBe(true);
      for (const c of t.spec.containers) {
        for (const m of c.volumeMounts ?? [])
          expect(
            volumes.has(m.name) || claims.includes(m.name),
            `${w.name}/${c.name}: volume ${m.name}`,
          ).toBe(true);
        for (const probe of [c.readinessProbe, c.livenessProbe]) {
          const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
          if (port !== undefined)
            expect(portOf(c, port)?.protocol, `${w.name}/${c.name}: probe port ${port}`).toBe('TCP');
        }
        expect(c.readinessProbe, `${w.name}/${c.name}: readinessProbe`).toBeDefined();
        containerEnv(c, `${w.name}-0`); // throws on a bad reference
      }
      if (w.kind === 'StatefulSet')
        expect(find('Service', w.raw.spec.serviceName), `${w.name}: serviceName`).toBeDefined();
      if (t.spec.hostNetwork === true)
        expect(t.spec.dnsPolicy, `${w.name}: hostNetwork pods resolve cluster names only with`).toBe(
          'ClusterFirstWithHostNet',
        );
    }
  });

  it('services select a workload and target its named ports with the same protocol', () => {
    for (const s of objects.filter((o) => o.kind === 'Service')) {
      const targets = workloads.filter((w) => matches(s.raw.spec.selector, template(w).metadata.labels));
      expect(
        targets.map((w) => w.name),
        `Service ${s.name} selects`,
      ).toHaveLength(1);
      const containers = template(targets[0]!).spec.containers;
      for (const p of s.raw.spec.ports) {
        const port = containers.map((c) => portOf(c, p.targetPort)).find(Boolean);
        expect(port?.protocol, `Service ${s.name} port ${p.name} → ${p.targetPort}`).toBe(p.protocol);
      }
    }
  });

  describe('switchboard', () => {
    const sts = find('StatefulSet', 'switchboard')!;
    const t = template(sts);
    const c = t.spec.containers.find((x) => x.name === 'switchboard')!;
    const env = containerEnv(c, 'switchboard-0');

    it('its settings pass the server config schema; secrets come from the Secret', () => {
      const config = loadConfig(env);
      expect(config.SIGNALING).toBe('embedded');
      expect(config.REDIS_URL, 'several instances share Redis').toBeDefined();
      expect(config.INSTANCE_ID).toBe('switchboard-0');
      for (const key of ['MASTER_KEY', 'ADMIN_TOKEN'])
        expect(c.env?.find((e) => e.name === key)?.valueFrom?.secretKeyRef?.name, key).toBe(
          'switchboard-secrets',
        );
      const redis = new URL(config.REDIS_URL!);
      const [svc, ns] = redis.hostname.split('.');
      const service = find('Service', svc!);
      expect(service, `REDIS_URL host ${redis.hostname}`).toBeDefined();
      expect(ns).toBe(service!.namespace);
      expect(service!.raw.spec.ports.map((p: any) => p.port)).toContain(Number(redis.port || 6379));
    });

    it('SIP is declared UDP (and TCP) on SIP_PORT; the RTP range is reachable: host network + the documented range', () => {
      const config = loadConfig(env);
      for (const proto of config.SIP_TRANSPORTS)
        expect(
          c.ports?.some((p) => p.containerPort === config.SIP_PORT && p.protocol === proto.toUpperCase()),
          proto,
        ).toBe(true);
      expect(c.ports?.find((p) => p.name === 'http')?.containerPort).toBe(config.HTTP_PORT);
      // Kubernetes cannot publish a port range: without the host network the RTP ports would be unreachable.
      expect(t.spec.hostNetwork).toBe(true);
      expect(t.metadata.annotations?.['switchboard.io/rtp-ports']).toBe(
        `${config.RTP_PORT_MIN}-${config.RTP_PORT_MAX}/udp`,
      );
      // Host ports: at most one pod per node.
      const anti = (t.spec.affinity as any)?.podAntiAffinity
        ?.requiredDuringSchedulingIgnoredDuringExecution?.[0];
      expect(anti?.topologyKey).toBe('kubernetes.io/hostname');
      expect(matches(anti?.labelSelector?.matchLabels ?? { none: 'x' }, t.metadata.labels)).toBe(true);
    });

    it('readiness on /readyz, preStop starts the drain, the grace period covers DRAIN_TIMEOUT_S', () => {
      expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
      const script = c.lifecycle?.preStop?.exec?.command.join(' ') ?? '';
      expect(script).toContain('/v1/admin/drain');
      expect(script).toMatch(/method: 'POST'/);
      expect(script).toContain('ADMIN_TOKEN');
      // The hook runs in the container: every variable it reads is in its environment.
      for (const [, name] of script.matchAll(/process\.env\.([A-Z_]+)/g))
        expect(env[name!], name).toBeDefined();
      const drainS = Number(env.DRAIN_TIMEOUT_S);
      expect(loadConfig(env).DRAIN_TIMEOUT_S).toBe(drainS);
      const graceS = t.spec.terminationGracePeriodSeconds!;
      expect(graceS - drainS).toBeGreaterThanOrEqual(GRACE_MARGIN_S.min);
      expect(graceS - drainS).toBeLessThanOrEqual(GRACE_MARGIN_S.max);
    });

    it('the dialplans ConfigMap is mounted at DIALPLANS_DIR and every entry passes the dialplan schema', () => {
      const mount = c.volumeMounts?.find((m) => m.mountPath === env.DIALPLANS_DIR);
      const volume = t.spec.volumes?.find((v) => v.name === mount?.name);
      const cm = find('ConfigMap', volume?.configMap?.name ?? '');
      expect(cm, 'dialplans ConfigMap').toBeDefined();
      const entries = Object.entries(cm!.raw.data as Record<string, string>);
      expect(entries.length).toBeGreaterThan(0);
      for (const [key, text] of entries) {
        expect(key).toMatch(/\.ya?ml$/);
        const r = dialplanSchema.safeParse(parseYaml(text));
        expect(r.success, `${key}: ${r.success ? '' : z.prettifyError(r.error)}`).toBe(true);
      }
    });

    it('the PodDisruptionBudget selects exactly the switchboard pods', () => {
      const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
      expect(pdbs).toHaveLength(1);
      const selector = pdbs[0]!.raw.spec.selector.matchLabels;
      expect(matches(selector, t.metadata.labels)).toBe(true);
      for (const w of workloads.filter((x) => x !== sts))
        expect(matches(selector, template(w).metadata.labels), w.name).toBe(false);
    });

    it("Kamailio mounts the generated config and its dispatcher.list names each replica's SIP address", () => {
      const kam = find('Deployment', 'kamailio')!;
      const kc = template(kam).spec.containers[0]!;
      const cmd = [...(kc.command ?? []), ...(kc.args ?? [])];
      const mount = kc.volumeMounts![0]!;
      const volume = template(kam).spec.volumes?.find((v) => v.name === mount.name);
      const keys = generatedKeys(volume?.configMap?.name ?? '');
      expect(cmd[cmd.indexOf('-f') + 1]).toBe(`${mount.mountPath}/kamailio.cfg`);
      const listDefine = cmd.find((a) => a.startsWith('DISPATCHER_LIST='));
      expect(listDefine).toBe(`DISPATCHER_LIST="${mount.mountPath}/dispatcher.list"`);
      expect(keys.sort()).toEqual(['dispatcher.list', 'kamailio.cfg']);
      // Kamailio (5060) and an instance (SIP_PORT) may share a node's host network.
      const config = loadConfig(env);
      expect(kc.ports?.map((p) => p.containerPort)).not.toContain(config.SIP_PORT);

      const listFile = kustomization
        .configMapGenerator!.find((g) => g.name === volume!.configMap!.name)!
        .files.find((f) => f.startsWith('dispatcher.list='))!;
      const lines = readFileSync(join(DIR, listFile.split('=')[1]!), 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith('#'));
      const expected = Array.from(
        { length: sts.raw.spec.replicas as number },
        (_, i) =>
          `1 sip:${sts.name}-${i}.${sts.raw.spec.serviceName}.${sts.namespace}.svc.cluster.local:${config.SIP_PORT} 0 0 duid=${sts.name}-${i}`,
      );
      expect(lines).toEqual(expected);
      // The headless Service publishes the pods' DNS names before they are ready (Kamailio probes them itself).
      const svc = find('Service', sts.raw.spec.serviceName)!;
      expect(svc.raw.spec.clusterIP).toBe('None');
    });
  });
});
