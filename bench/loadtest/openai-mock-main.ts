/**
 * The OpenAI load mock as its own process (spawned by bench/loadtest.ts), so its JSON and VAD work competes
 * neither with the server nor with the load client's clock. Prints `{"url": …}` once listening; answers a
 * `stats` line on stdin with a JSON stats line; exits when stdin closes (the parent ended, however it ended).
 */
import { createInterface } from 'node:readline';
import { OpenAILoadMock } from './openai-load-mock.js';

const apiKey = process.argv[2] ?? 'sk-load';
const mock = new OpenAILoadMock({ apiKey });
await mock.listen();
process.stdout.write(`${JSON.stringify({ url: mock.url })}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'stats') process.stdout.write(`${JSON.stringify({ stats: mock.stats() })}\n`);
});
lines.on('close', () => {
  void mock.close().finally(() => process.exit(0));
});
