/**
 * Usage totals and the estimated cost of a call (issue 16). The price table is operator configuration
 * (`PRICES_FILE`, JSON or YAML), not part of any profile: per provider and model (`*` for any model of a
 * provider) a price per minute of call and/or per million tokens, text and audio apart. Tokens are what the
 * providers reported in their `usage` events; without a table the CDR carries no cost.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';

const perMillion = z.number().nonnegative();
const priceSchema = z
  .object({
    per_minute: z.number().nonnegative().optional(),
    input_tokens_per_million: perMillion.optional(),
    output_tokens_per_million: perMillion.optional(),
    /** Audio tokens (a subset of the input/output tokens); priced as text when absent. */
    input_audio_tokens_per_million: perMillion.optional(),
    output_audio_tokens_per_million: perMillion.optional(),
  })
  .strict();

export const priceTableSchema = z
  .object({
    currency: z.string().trim().min(1).max(8).default('USD'),
    providers: z.record(z.string().min(1), z.record(z.string().min(1), priceSchema)),
  })
  .strict();

export type PriceTable = z.output<typeof priceTableSchema>;

export interface UsageTotals {
  readonly provider: string;
  readonly model: string | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly inputAudioTokens: number;
  readonly outputAudioTokens: number;
  /** Usage reports summed (one per provider response). */
  readonly reports: number;
}

export interface CostItem {
  readonly provider: string;
  readonly model: string | null;
  readonly amount: number;
}

export interface CostEstimate {
  readonly currency: string;
  readonly total: number;
  readonly items: readonly CostItem[];
}

/** Reads and validates the price table; a bad file is a startup error naming PRICES_FILE. */
export async function loadPriceTable(path: string): Promise<PriceTable> {
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ConfigError('PRICES_FILE', `cannot read ${path}: ${(err as Error).message}`);
  }
  const parsed = priceTableSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
    throw new ConfigError('PRICES_FILE', `${path}${at}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;

/**
 * Cost per agent used: per-minute prices count the time that agent had the call (`minutes` per usage
 * entry), token prices the tokens it reported. An agent with no price in the table costs nothing here.
 */
export function estimateCost(
  table: PriceTable,
  usage: readonly UsageTotals[],
  minutes: ReadonlyMap<UsageTotals, number>,
): CostEstimate {
  const items: CostItem[] = [];
  for (const u of usage) {
    const models = table.providers[u.provider];
    const price = models?.[u.model ?? '*'] ?? models?.['*'];
    if (price === undefined) continue;
    const textIn = Math.max(0, u.inputTokens - u.inputAudioTokens);
    const textOut = Math.max(0, u.outputTokens - u.outputAudioTokens);
    const inText = price.input_tokens_per_million ?? 0;
    const outText = price.output_tokens_per_million ?? 0;
    const amount =
      (price.per_minute ?? 0) * (minutes.get(u) ?? 0) +
      (textIn * inText +
        u.inputAudioTokens * (price.input_audio_tokens_per_million ?? inText) +
        textOut * outText +
        u.outputAudioTokens * (price.output_audio_tokens_per_million ?? outText)) /
        1e6;
    items.push({ provider: u.provider, model: u.model, amount: round6(amount) });
  }
  return { currency: table.currency, total: round6(items.reduce((s, i) => s + i.amount, 0)), items };
}
