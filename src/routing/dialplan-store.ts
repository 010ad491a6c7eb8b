import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { BlockList } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { TurnCapabilities } from '../agent/provider.js';
import type { Logger } from '../observability/logger.js';
import { parseAllowList } from './cidr.js';
import { dialplanSchema, type Dialplan } from './dialplan.js';
import { numberKey } from './number.js';
import { NO_TURN_SETTINGS, unsupportedTurnSetting } from './turn-support.js';

/** A validated dialplan file, ready for routing. */
export interface LoadedDialplan {
  readonly file: string;
  readonly dialplan: Dialplan;
  /** undefined: any source may call. */
  readonly allowFrom: BlockList | undefined;
  /** The exact numbers as canonical keys (see numberKey): what routing and conflict checks compare. */
  readonly numberKeys: ReadonlySet<string>;
  /** The file claims "*" (every number no other file routes). */
  readonly wildcard: boolean;
}

export interface ParseOptions {
  /** True when a provider slug (or alias) is registered; absent: any slug is accepted. */
  readonly knownProvider?: (slug: string) => boolean;
  /** The turn settings a provider honours (issue 14); absent: `turn:` is not checked against providers. */
  readonly turnCapabilities?: (slug: string) => TurnCapabilities | undefined;
}

export interface DialplanStoreEvents {
  /** A file was (re)loaded and is now active. */
  loaded: [{ file: string; tenant: string }];
  /** A file was rejected; the previous version of it (if any) stays active. */
  rejected: [{ file: string; message: string }];
  removed: [{ file: string; tenant: string }];
}

/** Validate one dialplan file's text; returns the error message naming the file and field on failure. */
export function parseDialplan(
  file: string,
  text: string,
  options: ParseOptions = {},
): { ok: true; value: LoadedDialplan } | { ok: false; message: string } {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    return { ok: false, message: `${file}: invalid YAML: ${(err as Error).message.split('\n')[0]}` };
  }
  const parsed = dialplanSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') ?? '';
    return {
      ok: false,
      message: `${file}: ${field === '' ? '' : `${field}: `}${issue?.message ?? 'invalid'}`,
    };
  }
  // An unknown slug would otherwise fail every call at answer time instead of once, here.
  const provider = parsed.data.agent.provider;
  if (options.knownProvider !== undefined && !options.knownProvider(provider))
    return { ok: false, message: `${file}: agent.provider: unknown provider "${provider}"` };
  const known = options.knownProvider;
  const badTarget = (parsed.data.agent.failover ?? []).findIndex((t) => known?.(t.provider) === false);
  if (badTarget >= 0) {
    const slug = parsed.data.agent.failover![badTarget]!.provider;
    return {
      ok: false,
      message: `${file}: agent.failover.${badTarget}.provider: unknown provider "${slug}"`,
    };
  }
  const turnProblem = checkTurn(parsed.data, options);
  if (turnProblem !== undefined) return { ok: false, message: `${file}: ${turnProblem}` };
  let allowFrom: BlockList | undefined;
  try {
    allowFrom = parsed.data.allow_from === undefined ? undefined : parseAllowList(parsed.data.allow_from);
  } catch (err) {
    return { ok: false, message: `${file}: allow_from: ${(err as Error).message}` };
  }
  const exact = parsed.data.numbers.filter((n) => n !== '*');
  const numberKeys = new Set(exact.map(numberKey));
  const wildcard = exact.length !== parsed.data.numbers.length;
  return { ok: true, value: { file, dialplan: parsed.data, allowFrom, numberKeys, wildcard } };
}

/** `turn:` against the primary provider, then every failover target (each runs with the same profile). */
function checkTurn(d: Dialplan, options: ParseOptions): string | undefined {
  const turn = d.agent.turn;
  const capsOf = options.turnCapabilities;
  if (turn === undefined || capsOf === undefined) return undefined;
  const providers = [
    { slug: d.agent.provider, where: '' },
    ...(d.agent.failover ?? []).map((t, i) => ({
      slug: t.provider,
      where: ` (agent.failover.${i}.provider)`,
    })),
  ];
  for (const p of providers) {
    const problem = unsupportedTurnSetting(turn, capsOf(p.slug) ?? NO_TURN_SETTINGS);
    if (problem !== undefined)
      return `agent.turn.${problem.field}: ${problem.message} provider "${p.slug}"${p.where}`;
  }
  return undefined;
}

/**
 * All dialplans of DIALPLANS_DIR, validated at start-up and on change (hot reload). A bad file is rejected
 * with a message naming the file and field, and the previous version of that file stays active.
 */
export class DialplanStore extends EventEmitter<DialplanStoreEvents> {
  readonly #dir: string;
  readonly #log: Logger;
  readonly #parse: ParseOptions;
  readonly #byFile = new Map<string, LoadedDialplan>();
  /** The last load error of each file that failed, until it loads or disappears. */
  readonly #rejected = new Map<string, string>();
  #watcher: FSWatcher | undefined;
  #reloadTimer: NodeJS.Timeout | undefined;

  constructor(options: { dir: string; logger: Logger } & ParseOptions) {
    super();
    this.#dir = options.dir;
    this.#log = options.logger.child({ component: 'dialplans' });
    this.#parse = {
      ...(options.knownProvider === undefined ? {} : { knownProvider: options.knownProvider }),
      ...(options.turnCapabilities === undefined ? {} : { turnCapabilities: options.turnCapabilities }),
    };
  }

  /** The active dialplans, in file name order. */
  all(): LoadedDialplan[] {
    return [...this.#byFile.values()].sort((a, b) => a.file.localeCompare(b.file));
  }

  /** Files whose current text was refused (the previous version, if any, stays active), by file name. */
  rejected(): { file: string; message: string }[] {
    return [...this.#rejected.entries()]
      .map(([file, message]) => ({ file, message }))
      .sort((a, b) => a.file.localeCompare(b.file));
  }

  byTenant(tenant: string): LoadedDialplan | undefined {
    return this.all().find((d) => d.dialplan.tenant === tenant);
  }

  /** Load every *.yaml / *.yml file. Returns the rejection messages (start-up logs them). */
  async load(): Promise<string[]> {
    let names: string[];
    try {
      names = (await readdir(this.#dir)).filter((n) => /\.ya?ml$/i.test(n)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') names = [];
      else throw err;
    }
    const problems: string[] = [];
    for (const gone of [...this.#rejected.keys()].filter((f) => !names.includes(f)))
      this.#rejected.delete(gone);
    for (const gone of [...this.#byFile.keys()].filter((f) => !names.includes(f))) {
      const old = this.#byFile.get(gone);
      this.#byFile.delete(gone);
      if (old !== undefined) this.emit('removed', { file: gone, tenant: old.dialplan.tenant });
    }
    for (const name of names) {
      const problem = await this.#loadFile(name);
      if (problem !== undefined) problems.push(problem);
    }
    return problems;
  }

  async #loadFile(name: string): Promise<string | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.#dir, name), 'utf8');
    } catch (err) {
      return this.#reject(name, `${name}: cannot read: ${(err as Error).message}`);
    }
    const result = parseDialplan(name, text, this.#parse);
    if (!result.ok) return this.#reject(name, result.message);
    const conflict = this.#conflict(result.value);
    if (conflict !== undefined) return this.#reject(name, conflict);
    this.#rejected.delete(name);
    const previous = this.#byFile.get(name);
    if (
      previous !== undefined &&
      JSON.stringify(previous.dialplan) === JSON.stringify(result.value.dialplan)
    ) {
      return undefined;
    }
    this.#byFile.set(name, result.value);
    this.#log.info({ file: name, tenant: result.value.dialplan.tenant }, 'dialplan loaded');
    this.emit('loaded', { file: name, tenant: result.value.dialplan.tenant });
    return undefined;
  }

  /**
   * Another file already owns this tenant, one of its numbers (compared normalised: "15551230000" is
   * "+15551230000") or the "*" wildcard. The file that came later is refused; the earlier keeps working.
   */
  #conflict(candidate: LoadedDialplan): string | undefined {
    for (const other of this.#byFile.values()) {
      if (other.file === candidate.file) continue;
      if (other.dialplan.tenant === candidate.dialplan.tenant) {
        return `${candidate.file}: tenant: "${candidate.dialplan.tenant}" is already defined by ${other.file}`;
      }
      const taken = candidate.dialplan.numbers.find((n) => n !== '*' && other.numberKeys.has(numberKey(n)));
      if (taken !== undefined)
        return `${candidate.file}: numbers: "${taken}" is already routed by ${other.file}`;
      if (candidate.wildcard && other.wildcard)
        return `${candidate.file}: numbers: "*" is already routed by ${other.file}`;
    }
    return undefined;
  }

  #reject(file: string, message: string): string {
    this.#rejected.set(file, message);
    this.#log.error({ file, problem: message }, 'dialplan rejected; previous version stays active');
    this.emit('rejected', { file, message });
    return message;
  }

  /** Watch the directory and reload on change (debounced). */
  watch(debounceMs = 200): void {
    if (this.#watcher !== undefined) return;
    try {
      this.#watcher = watch(this.#dir, { persistent: false }, (_event, filename) => {
        if (filename !== null && !/\.ya?ml$/i.test(basename(filename))) return;
        clearTimeout(this.#reloadTimer);
        this.#reloadTimer = setTimeout(() => {
          this.load().catch((err: unknown) => this.#log.error({ err }, 'dialplan reload failed'));
        }, debounceMs);
      });
      this.#watcher.on('error', (err) => this.#log.warn({ err }, 'dialplan watcher error'));
    } catch (err) {
      this.#log.warn({ err, dir: this.#dir }, 'cannot watch dialplans directory; hot reload disabled');
    }
  }

  close(): void {
    clearTimeout(this.#reloadTimer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
