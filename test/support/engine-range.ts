/**
 * The subset of node-semver ranges that `engines.node` fields use (`>=18`, `^20.19.0 || >=22.12.0`,
 * `>= 12.0.0`, `18 || 20 || >=22`, `4.x || >=6.0.0`, `*`), evaluated for one Node version the way npm's
 * EBADENGINE check does (semver.satisfies, no prereleases). Throws on syntax it does not know rather than
 * guessing, so a new form in the lock fails loudly instead of passing.
 */
type Version = readonly [number, number, number];

function parse(v: string): Version {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(v.trim());
  if (m === null) throw new Error(`not a version: ${v}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function cmp(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** A partial version ("20", "20.9", "4.x") as [lowest, first above] of the versions it stands for. */
function partial(text: string): [Version, Version] {
  const parts = text.split('.').filter((p) => p !== 'x' && p !== 'X' && p !== '*');
  if (parts.length > 3 || parts.some((p) => !/^\d+$/.test(p))) throw new Error(`unknown version: ${text}`);
  const n = parts.map(Number);
  const lo: Version = [n[0] ?? 0, n[1] ?? 0, n[2] ?? 0];
  if (n.length === 0)
    return [
      [0, 0, 0],
      [Infinity, 0, 0],
    ];
  if (n.length === 1) return [lo, [lo[0] + 1, 0, 0]];
  if (n.length === 2) return [lo, [lo[0], lo[1] + 1, 0]];
  return [lo, [lo[0], lo[1], lo[2] + 1]];
}

function comparator(c: string, v: Version): boolean {
  const m = /^(>=|<=|>|<|\^|~|=)?(.+)$/.exec(c);
  if (m === null) throw new Error(`unknown comparator: ${c}`);
  const [, op = '=', rest = ''] = m;
  const [lo, above] = partial(rest);
  switch (op) {
    case '>=':
      return cmp(v, lo) >= 0;
    case '>':
      return cmp(v, above) >= 0;
    case '<':
      return cmp(v, lo) < 0;
    case '<=':
      return cmp(v, above) < 0;
    case '^': {
      // ^X.Y.Z: same major (for X ≥ 1, the only form engines use).
      if (lo[0] === 0) throw new Error(`^0 ranges are not used by engines: ${c}`);
      return cmp(v, lo) >= 0 && v[0] === lo[0];
    }
    case '~':
      return cmp(v, lo) >= 0 && v[0] === lo[0] && v[1] === lo[1];
    default:
      return cmp(v, lo) >= 0 && cmp(v, above) < 0;
  }
}

/** Whether Node `version` (e.g. "20.19.0" or process.version) satisfies the `engines.node` range. */
export function nodeSatisfies(range: string, version: string): boolean {
  const v = parse(version);
  return range.split('||').some((alternative) => {
    const comparators = alternative
      .trim()
      .replace(/([<>]=?|[\^~=])\s+/g, '$1')
      .split(/\s+/)
      .filter((c) => c !== '');
    if (comparators.length === 0) return true;
    return comparators.every((c) => (c === '*' || c === 'x' ? true : comparator(c, v)));
  });
}
