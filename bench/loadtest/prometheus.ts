/** Just enough of the Prometheus text format (exposition format 0.0.4) to read a few samples. */

export interface Samples {
  /** Value of the sample `name` (no labels), or the sum over all label sets of `name`; NaN if absent. */
  get(name: string): number;
}

/** Parses `name{labels} value [timestamp]` lines; comments and blank lines are skipped. */
export function parsePrometheus(text: string): Samples {
  const sums = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const nameEnd = brace >= 0 && brace < space ? brace : space;
    if (nameEnd <= 0) continue;
    const name = line.slice(0, nameEnd);
    const afterLabels = brace >= 0 && brace < space ? line.indexOf('} ', brace) + 2 : space + 1;
    if (afterLabels < 2) continue;
    const value = Number(line.slice(afterLabels).split(' ')[0]);
    if (!Number.isFinite(value)) continue;
    sums.set(name, (sums.get(name) ?? 0) + value);
  }
  return { get: (name) => sums.get(name) ?? Number.NaN };
}
