/**
 * `npm run bench`: runs every `bench/*.bench.ts` (compiled to dist/bench) in name order, or only those whose
 * name contains one of the command-line arguments. Each bench module exports
 * `run(print: (line: string) => void): Promise<void>` and prints its own figures.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpus } from 'node:os';

interface BenchModule {
  run(print: (line: string) => void): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
print(`# switchboard bench — node ${process.version}, ${cpus().length} cpu(s): ${cpus()[0]?.model ?? '?'}`);
for (const f of files) {
  print(`\n## ${f.replace('.bench.js', '')}`);
  const mod = (await import(pathToFileURL(join(here, f)).href)) as BenchModule;
  await mod.run(print);
}
