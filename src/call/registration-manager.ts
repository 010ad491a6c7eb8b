/**
 * Tenants' outbound registrations (issue 13): the stored records (sealed in the TenantStore) joined with the
 * live Registration the signaling backend keeps for each. PUT stores and (re)starts, DELETE unregisters
 * (Expires: 0) and removes, start-up resumes every stored one. It also answers the router's question "is
 * this Request-URI user one of our registered contacts, and whose?", and feeds /metrics.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import type { Registration, RegistrationState } from '../sip/registration.js';
import type { Signaling, SipTransport } from '../sip/signaling.js';
import {
  aorUser,
  storedRegistrationFrom,
  toStored,
  type RegistrationInput,
  type StoredRegistration,
} from '../tenants/registration.js';
import type { TenantStore } from '../tenants/store.js';

export interface RegistrationView {
  readonly tenant: string;
  readonly name: string;
  readonly aor: string;
  readonly registrar: string;
  readonly username: string;
  /** Always masked: the password is write-only. */
  readonly password: string;
  readonly expires_s: number;
  readonly transport: SipTransport;
  readonly state: Exclude<RegistrationState, 'unregistered'>;
  readonly expires_at: string | null;
  readonly last_error: string | null;
  readonly contact_user: string;
  readonly gruu: string | null;
}

export interface RegisteredContact {
  readonly tenant: string;
  /** The AOR's user part: what the tenant's dialplan numbers are matched against. */
  readonly calledUser: string;
}

export interface RegistrationManagerDeps {
  readonly signaling: Pick<Signaling, 'register' | 'name'>;
  readonly store: TenantStore;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** Transports this server listens on: a registration over another is refused (422). */
  readonly transports: readonly SipTransport[];
  /** Keep-alive interval while registered (SIP_REGISTER_KEEPALIVE_S). */
  readonly keepAliveS: number;
}

interface Entry {
  readonly tenant: string;
  readonly name: string;
  readonly stored: StoredRegistration;
  readonly registration: Registration | undefined;
  /** Why the backend could not start it at all (e.g. drachtio). */
  readonly startError: string | undefined;
}

const STATES = ['registering', 'registered', 'failed'] as const;

export class RegistrationManager {
  readonly #entries = new Map<string, Entry>();
  readonly #byContact = new Map<string, Entry>();
  readonly #log: Logger;
  readonly #failures: Counter;

  constructor(private readonly deps: RegistrationManagerDeps) {
    this.#log = deps.logger.child({ component: 'registrations' });
    const entries = this.#entries;
    const gauge = deps.metrics.getSingleMetric('switchboard_sip_registrations');
    if (gauge === undefined) {
      new Gauge({
        name: 'switchboard_sip_registrations',
        help: 'Outbound registrations by state',
        labelNames: ['state'],
        registers: [deps.metrics],
        collect() {
          for (const state of STATES) this.set({ state }, 0);
          for (const e of entries.values()) this.inc({ state: stateOf(e) });
        },
      });
    }
    this.#failures =
      (deps.metrics.getSingleMetric('switchboard_sip_registration_failures_total') as Counter | undefined) ??
      new Counter({
        name: 'switchboard_sip_registration_failures_total',
        help: 'Outbound REGISTER attempts that ended in failure (error response, timeout, keep-alive lost)',
        registers: [deps.metrics],
      });
  }

  /** Why `input` cannot be registered from this server, or undefined. */
  refusal(input: RegistrationInput): string | undefined {
    if (this.deps.signaling.name !== 'embedded')
      return `outbound REGISTER is not supported on the ${this.deps.signaling.name} backend (use SIGNALING=embedded)`;
    if (!this.deps.transports.includes(input.transport))
      return `transport ${input.transport} is not enabled (SIP_TRANSPORTS)`;
    return undefined;
  }

  /** Start every stored registration (server start). A record that cannot be read is logged and skipped. */
  async resume(): Promise<number> {
    let started = 0;
    for (const { tenant, name } of await this.deps.store.listRegistrations()) {
      try {
        const stored = storedRegistrationFrom(await this.deps.store.getRegistration(tenant, name));
        if (stored === undefined) {
          this.#log.error({ tenant, name }, 'stored registration is not valid; not resumed');
          continue;
        }
        this.#start(tenant, name, stored);
        started++;
      } catch (err) {
        this.#log.error({ tenant, name, err: (err as Error).message }, 'stored registration unreadable');
      }
    }
    return started;
  }

  /** Store and (re)start; true when it is new. */
  async put(tenant: string, name: string, input: RegistrationInput): Promise<boolean> {
    const previous = storedRegistrationFrom(await this.deps.store.getRegistration(tenant, name));
    const stored = toStored(input, previous);
    await this.deps.store.putRegistration(tenant, name, stored);
    await this.#stop(tenant, name);
    this.#start(tenant, name, stored);
    this.#log.info({ tenant, name, transport: input.transport }, 'registration stored');
    return previous === undefined;
  }

  get(tenant: string, name: string): RegistrationView | undefined {
    const e = this.#entries.get(key(tenant, name));
    return e === undefined ? undefined : view(e);
  }

  list(tenant: string): RegistrationView[] {
    return [...this.#entries.values()]
      .filter((e) => e.tenant === tenant)
      .map(view)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Unregister (Expires: 0) and remove; false when there was none. */
  async delete(tenant: string, name: string): Promise<boolean> {
    const existed = await this.deps.store.deleteRegistration(tenant, name);
    const running = await this.#stop(tenant, name);
    if (existed || running) this.#log.info({ tenant, name }, 'registration deleted');
    return existed || running;
  }

  /** The tenant a Request-URI user belongs to when it is one of our registered contacts. */
  contactRoute(user: string): RegisteredContact | undefined {
    const e = this.#byContact.get(user);
    return e === undefined ? undefined : { tenant: e.tenant, calledUser: aorUser(e.stored.aor) };
  }

  /** Unregister everything (server shutdown); each waits at most the client's bound. */
  async close(): Promise<void> {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    this.#byContact.clear();
    await Promise.allSettled(entries.map((e) => e.registration?.unregister() ?? Promise.resolve()));
  }

  #start(tenant: string, name: string, stored: StoredRegistration): void {
    let registration: Registration | undefined;
    let startError: string | undefined;
    try {
      registration = this.deps.signaling.register({
        aor: stored.aor,
        registrar: stored.registrar,
        username: stored.username,
        password: stored.password,
        expiresS: stored.expires_s,
        transport: stored.transport,
        contactUser: stored.contact_user,
        instanceId: stored.instance_id,
        keepAliveS: this.deps.keepAliveS,
      });
      registration.on('status', (s) => {
        if (s.state === 'failed') this.#failures.inc();
      });
    } catch (err) {
      startError = (err as Error).message;
      this.#failures.inc();
      this.#log.error({ tenant, name, err: startError }, 'registration could not start');
    }
    const entry: Entry = { tenant, name, stored, registration, startError };
    this.#entries.set(key(tenant, name), entry);
    this.#byContact.set(stored.contact_user, entry);
  }

  async #stop(tenant: string, name: string): Promise<boolean> {
    const e = this.#entries.get(key(tenant, name));
    if (e === undefined) return false;
    this.#entries.delete(key(tenant, name));
    if (this.#byContact.get(e.stored.contact_user) === e) this.#byContact.delete(e.stored.contact_user);
    await e.registration?.unregister();
    return true;
  }
}

function key(tenant: string, name: string): string {
  return `${tenant}\u0000${name}`;
}

function stateOf(e: Entry): RegistrationView['state'] {
  const state = e.registration?.status.state ?? 'failed';
  return state === 'unregistered' ? 'failed' : state;
}

function view(e: Entry): RegistrationView {
  const status = e.registration?.status;
  return {
    tenant: e.tenant,
    name: e.name,
    aor: e.stored.aor,
    registrar: e.stored.registrar,
    username: e.stored.username,
    password: '********',
    expires_s: e.stored.expires_s,
    transport: e.stored.transport,
    state: stateOf(e),
    expires_at: status?.expiresAt?.toISOString() ?? null,
    last_error: status?.lastError ?? e.startError ?? null,
    contact_user: e.stored.contact_user,
    gruu: status?.gruu ?? null,
  };
}
