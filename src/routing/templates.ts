/**
 * Per-call templates in agent instructions and greetings: `{{caller.number}}`, `{{sip.headers.X-Account-Id}}`,
 * with an optional default after a bar, `{{caller.name|there}}`. One pass, left to right: a value that
 * itself contains `{{…}}` is inserted as text and never expanded again. A variable the call does not have
 * becomes its default (or nothing) and is reported in `missing`, so the model never sees literal braces.
 */

/** A variable reference: a dotted name (letters, digits, `_`, `-`), optional `|default` (no braces). */
const REFERENCE = /\{\{\s*([A-Za-z][A-Za-z0-9_.-]{0,127})\s*(?:\|([^{}]{0,200}))?\}\}/g;

export interface Rendered {
  readonly text: string;
  /** Names used without a value (each once, in order of first use). */
  readonly missing: readonly string[];
}

/** Variable names are case-sensitive except the `sip.headers.` suffix (header names are not, RFC 3261 §7.3.1). */
export function lookupVariable(vars: Readonly<Record<string, string>>, name: string): string | undefined {
  if (Object.hasOwn(vars, name)) return vars[name];
  if (!name.toLowerCase().startsWith('sip.headers.')) return undefined;
  const lower = name.toLowerCase();
  const key = Object.keys(vars).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : vars[key];
}

export function renderTemplate(text: string, vars: Readonly<Record<string, string>>): Rendered {
  const missing: string[] = [];
  const out = text.replace(REFERENCE, (_match, name: string, fallback: string | undefined) => {
    const value = lookupVariable(vars, name);
    if (value !== undefined && value !== '') return value;
    if (!missing.includes(name)) missing.push(name);
    return fallback?.trim() ?? '';
  });
  return { text: out, missing };
}
