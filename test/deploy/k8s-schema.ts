/**
 * The part of the Kubernetes object model deploy/kubernetes/ uses, as zod schemas (kubeconform is a Go
 * binary, not installable here). Field names and shapes follow the Kubernetes API reference (core/v1,
 * apps/v1, policy/v1) and kustomize's Kustomization; objects are `strict` where a typo would silently do
 * nothing in a real cluster (an unknown key in a container or a probe is dropped by the API server).
 */
import { z } from 'zod';

/** RFC 1123 label (names of most objects, ports names ≤ 15 chars are IANA_SVC_NAME). */
const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'RFC 1123 label');
const portName = z
  .string()
  .max(15)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
  .refine((s) => /[a-z]/.test(s), 'a port name needs a letter');
const portNumber = z.number().int().min(1).max(65535);
const protocol = z.enum(['TCP', 'UDP', 'SCTP']);
const labels = z.record(z.string(), z.string());

export const metadataSchema = z.object({
  name: dnsLabel,
  namespace: dnsLabel.optional(),
  labels: labels.optional(),
  annotations: labels.optional(),
});

const intOrName = z.union([portNumber, portName]);

const probeSchema = z
  .object({
    httpGet: z
      .object({ path: z.string().startsWith('/'), port: intOrName })
      .strict()
      .optional(),
    tcpSocket: z.object({ port: intOrName }).strict().optional(),
    exec: z
      .object({ command: z.array(z.string()).min(1) })
      .strict()
      .optional(),
    initialDelaySeconds: z.number().int().min(0).optional(),
    periodSeconds: z.number().int().min(1).optional(),
    timeoutSeconds: z.number().int().min(1).optional(),
    failureThreshold: z.number().int().min(1).optional(),
    successThreshold: z.number().int().min(1).optional(),
  })
  .strict()
  .refine((p) => [p.httpGet, p.tcpSocket, p.exec].filter(Boolean).length === 1, 'exactly one handler');

const handlerSchema = z
  .object({
    exec: z
      .object({ command: z.array(z.string()).min(1) })
      .strict()
      .optional(),
    httpGet: z.object({ path: z.string(), port: intOrName }).strict().optional(),
    sleep: z
      .object({ seconds: z.number().int().min(1) })
      .strict()
      .optional(),
  })
  .strict();

const envVarSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
    value: z.string().optional(),
    valueFrom: z
      .object({
        fieldRef: z.object({ fieldPath: z.string() }).strict().optional(),
        secretKeyRef: z.object({ name: dnsLabel, key: z.string() }).strict().optional(),
        configMapKeyRef: z.object({ name: dnsLabel, key: z.string() }).strict().optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((e) => (e.value === undefined) !== (e.valueFrom === undefined), 'value or valueFrom, not both');

const quantity = z.union([z.string().regex(/^[0-9.]+(m|Ki|Mi|Gi|Ti)?$/), z.number()]);

export const containerSchema = z
  .object({
    name: dnsLabel,
    image: z
      .string()
      .regex(/^[\w.\-/:@]+:[\w.-]+$/, 'an image with an explicit tag')
      .refine((i) => !i.endsWith(':latest'), 'a pinned tag, not :latest'),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    env: z.array(envVarSchema).optional(),
    ports: z.array(z.object({ name: portName, containerPort: portNumber, protocol }).strict()).optional(),
    readinessProbe: probeSchema.optional(),
    livenessProbe: probeSchema.optional(),
    lifecycle: z
      .object({ preStop: handlerSchema.optional(), postStart: handlerSchema.optional() })
      .strict()
      .optional(),
    resources: z
      .object({
        requests: z.partialRecord(z.enum(['cpu', 'memory']), quantity).optional(),
        limits: z.partialRecord(z.enum(['cpu', 'memory']), quantity).optional(),
      })
      .strict()
      .optional(),
    securityContext: z.record(z.string(), z.unknown()).optional(),
    volumeMounts: z
      .array(
        z
          .object({ name: dnsLabel, mountPath: z.string().startsWith('/'), readOnly: z.boolean().optional() })
          .strict(),
      )
      .optional(),
  })
  .strict();

const volumeSchema = z
  .object({
    name: dnsLabel,
    configMap: z.object({ name: dnsLabel }).strict().optional(),
    secret: z.object({ secretName: dnsLabel }).strict().optional(),
    emptyDir: z.object({}).strict().optional(),
    persistentVolumeClaim: z.object({ claimName: dnsLabel }).strict().optional(),
  })
  .strict();

export const podSpecSchema = z
  .object({
    hostNetwork: z.boolean().optional(),
    dnsPolicy: z.enum(['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']).optional(),
    nodeSelector: labels.optional(),
    terminationGracePeriodSeconds: z.number().int().min(0).optional(),
    affinity: z.record(z.string(), z.unknown()).optional(),
    securityContext: z.record(z.string(), z.unknown()).optional(),
    containers: z.array(containerSchema).min(1),
    volumes: z.array(volumeSchema).optional(),
  })
  .strict();

const selectorSchema = z.object({ matchLabels: labels }).strict();

export const podTemplateSchema = z
  .object({
    metadata: z.object({ labels, annotations: labels.optional() }).strict(),
    spec: podSpecSchema,
  })
  .strict();

const claimTemplateSchema = z.object({
  metadata: z.object({ name: dnsLabel }).strict(),
  spec: z.object({
    accessModes: z.array(z.enum(['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'])),
    resources: z.object({ requests: z.object({ storage: quantity }) }),
  }),
});

export const statefulSetSpecSchema = z
  .object({
    serviceName: dnsLabel,
    replicas: z.number().int().min(0),
    podManagementPolicy: z.enum(['OrderedReady', 'Parallel']).optional(),
    updateStrategy: z.object({ type: z.enum(['RollingUpdate', 'OnDelete']) }).optional(),
    selector: selectorSchema,
    template: podTemplateSchema,
    volumeClaimTemplates: z.array(claimTemplateSchema).optional(),
  })
  .strict();

export const deploymentSpecSchema = z
  .object({
    replicas: z.number().int().min(0),
    strategy: z.object({ type: z.enum(['RollingUpdate', 'Recreate']) }).optional(),
    selector: selectorSchema,
    template: podTemplateSchema,
  })
  .strict();

export const serviceSpecSchema = z
  .object({
    clusterIP: z.string().optional(),
    publishNotReadyAddresses: z.boolean().optional(),
    selector: labels,
    ports: z
      .array(z.object({ name: portName, port: portNumber, targetPort: intOrName, protocol }).strict())
      .min(1),
  })
  .strict();

export const pdbSpecSchema = z
  .object({
    maxUnavailable: z.union([z.number().int().min(0), z.string()]).optional(),
    minAvailable: z.union([z.number().int().min(0), z.string()]).optional(),
    selector: selectorSchema,
  })
  .strict()
  .refine((s) => (s.maxUnavailable === undefined) !== (s.minAvailable === undefined), 'one of min/max');

export const kustomizationSchema = z
  .object({
    apiVersion: z.literal('kustomize.config.k8s.io/v1beta1'),
    kind: z.literal('Kustomization'),
    namespace: dnsLabel,
    resources: z.array(z.string()).min(1),
    generatorOptions: z.object({ disableNameSuffixHash: z.boolean() }).strict().optional(),
    configMapGenerator: z
      .array(z.object({ name: dnsLabel, files: z.array(z.string()).min(1) }).strict())
      .optional(),
  })
  .strict();

/** apiVersion and spec schema of every kind deploy/kubernetes/ may hold. */
export const KINDS = {
  Namespace: { apiVersion: 'v1', body: z.object({}) },
  ConfigMap: { apiVersion: 'v1', body: z.object({ data: z.record(z.string(), z.string()) }) },
  Secret: {
    apiVersion: 'v1',
    body: z.object({
      type: z.literal('Opaque'),
      stringData: z.record(z.string(), z.string()).optional(),
      data: z.record(z.string(), z.string()).optional(),
    }),
  },
  Service: { apiVersion: 'v1', body: z.object({ spec: serviceSpecSchema }) },
  StatefulSet: { apiVersion: 'apps/v1', body: z.object({ spec: statefulSetSpecSchema }) },
  Deployment: { apiVersion: 'apps/v1', body: z.object({ spec: deploymentSpecSchema }) },
  PodDisruptionBudget: { apiVersion: 'policy/v1', body: z.object({ spec: pdbSpecSchema }) },
} as const;

export type Kind = keyof typeof KINDS;
export type Container = z.output<typeof containerSchema>;
export type PodTemplate = z.output<typeof podTemplateSchema>;
export type ServiceSpec = z.output<typeof serviceSpecSchema>;
