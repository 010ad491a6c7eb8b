/**
 * The pure ordering rules of RFC 3263: NAPTR records by order then preference (RFC 3403 §4.1) filtered to
 * the SIP services we can use, SRV records by priority then weighted random within a priority (RFC 2782,
 * "Usage rules"). Randomness is injected so the weight rule is tested deterministically.
 */
import type { NaptrRecord, SrvRecord } from './dns-message.js';

/** A number in [0, 1). */
export type RandomSource = () => number;

/**
 * NAPTR records usable for SIP: flag "s" (the replacement is an SRV name, RFC 3263 §4.1), a service in
 * `services`, no regexp (RFC 3263 uses replacement only), ordered by order then preference.
 */
export function orderNaptr(records: readonly NaptrRecord[], services: readonly string[]): NaptrRecord[] {
  return records
    .filter((r) => r.flags === 's' && services.includes(r.service) && r.replacement !== '' && r.regexp === '')
    .sort((a, b) => a.order - b.order || a.preference - b.preference);
}

/**
 * RFC 2782: lowest priority first; within one priority, repeatedly pick a record with probability
 * proportional to its weight (weight-0 records placed first so they get a small chance, as the RFC says).
 * A single "." target means the service is decidedly not available: no targets.
 */
export function orderSrv(records: readonly SrvRecord[], random: RandomSource = Math.random): SrvRecord[] {
  if (records.length === 1 && records[0]?.target === '') return [];
  const byPriority = new Map<number, SrvRecord[]>();
  for (const r of records) {
    if (r.target === '') continue;
    const group = byPriority.get(r.priority);
    if (group === undefined) byPriority.set(r.priority, [r]);
    else group.push(r);
  }
  const out: SrvRecord[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const group = [...(byPriority.get(priority) ?? [])].sort((a, b) => a.weight - b.weight);
    while (group.length > 0) {
      const total = group.reduce((sum, r) => sum + r.weight, 0);
      // "select a uniform random number between 0 and the sum": the first record whose running sum is
      // >= it is chosen (so a weight-0 record, sorted first, wins only on a draw of 0). With all weights
      // 0 every record is equally likely.
      let index = 0;
      if (total === 0) index = Math.min(group.length - 1, Math.floor(random() * group.length));
      else {
        const pick = random() * total;
        let running = 0;
        index = group.findIndex((r) => (running += r.weight) >= pick);
        if (index < 0) index = group.length - 1;
      }
      const [chosen] = group.splice(index, 1);
      if (chosen !== undefined) out.push(chosen);
    }
  }
  return out;
}
