import { createServer, type Server } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolSpecsFor } from '../../src/call/tools/definitions.js';
import { ToolDispatcher, type ToolActions, type TransferTarget } from '../../src/call/tools/dispatcher.js';
import { callWebhook, isPrivateAddress } from '../../src/call/tools/webhook.js';
import { agentProfileSchema } from '../../src/routing/dialplan.js';

const logger = pino({ level: 'silent' });

function profile(port = 1): ReturnType<typeof agentProfileSchema.parse> {
  return agentProfileSchema.parse({
    provider: 'openai',
    tools: {
      transfer_call: {
        targets: { billing: 'sip:billing@pbx.example.com', sales: 'sip:sales@pbx.example.com' },
        method: 'refer',
      },
      end_call: {},
      send_dtmf: {},
      webhooks: [
        {
          name: 'lookup_order',
          url: `http://127.0.0.1:${port}/order`,
          description: 'Look up an order',
          allow_private: true,
          timeout_ms: 500,
        },
        { name: 'guarded', url: `http://127.0.0.1:${port}/order`, description: 'Private not allowed' },
      ],
    },
  });
}

class RecordingActions implements ToolActions {
  log: string[] = [];
  results: Array<[string, unknown]> = [];
  transferOk = true;
  waitForPlayout(maxWaitMs: number): Promise<void> {
    this.log.push(`wait:${maxWaitMs}`);
    return Promise.resolve();
  }
  hangup(reason: string): Promise<void> {
    this.log.push(`hangup:${reason}`);
    return Promise.resolve();
  }
  transfer(t: TransferTarget) {
    this.log.push(`transfer:${t.name}:${t.uri}:${t.method}`);
    return Promise.resolve(
      this.transferOk
        ? { ok: true, callLeft: true, status: 200, message: 'ok' }
        : { ok: false, callLeft: false, status: 603, message: 'declined' },
    );
  }
  sendDtmf(digits: string): Promise<void> {
    this.log.push(`dtmf:${digits}`);
    return Promise.resolve();
  }
  sendToolResult(callId: string, result: unknown): Promise<void> {
    this.results.push([callId, result]);
    return Promise.resolve();
  }
}

let server: Server;
let port = 0;
const received: unknown[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body));
      if (req.url === '/slow') {
        setTimeout(() => res.end('{}'), 2000);
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'shipped', order: (JSON.parse(body) as { id: string }).id }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('toolSpecsFor', () => {
  it('offers transfer destinations as an enum of target names only', () => {
    const specs = toolSpecsFor(profile());
    expect(specs.map((s) => s.name)).toEqual([
      'transfer_call',
      'end_call',
      'send_dtmf',
      'lookup_order',
      'guarded',
    ]);
    const transfer = specs[0]!.parameters as { properties: { destination: { enum: string[] } } };
    expect(transfer.properties.destination.enum).toEqual(['billing', 'sales']);
    expect(JSON.stringify(specs)).not.toContain('pbx.example.com');
  });
});

describe('ToolDispatcher', () => {
  const make = (actions: RecordingActions, p = profile(port)) =>
    new ToolDispatcher({ profile: p, actions, logger, context: { callId: 'call-1', tenant: 'acme' } });

  it('end_call waits for playout, then hangs up', async () => {
    const a = new RecordingActions();
    const out = await make(a).handle({ callId: 't1', name: 'end_call', args: { reason: 'done' } });
    expect(out.ok).toBe(true);
    expect(a.log).toEqual(['wait:10000', 'hangup:end_call']);
  });

  it('transfers to an allowed target after playout', async () => {
    const a = new RecordingActions();
    const out = await make(a).handle({
      callId: 't1',
      name: 'transfer_call',
      args: { destination: 'billing' },
    });
    expect(out.ok).toBe(true);
    expect(a.log).toEqual(['wait:10000', 'transfer:billing:sip:billing@pbx.example.com:refer']);
    expect(a.results).toEqual([]);
  });

  it('refuses an unknown target and tells the agent', async () => {
    const a = new RecordingActions();
    const d = make(a);
    const out = await d.handle({
      callId: 't2',
      name: 'transfer_call',
      args: { destination: 'sip:+1900555@evil' },
    });
    expect(out.ok).toBe(false);
    expect(a.log).toEqual([]);
    expect(a.results[0]?.[0]).toBe('t2');
    expect(JSON.stringify(a.results[0]?.[1])).toContain('allowed: billing, sales');
    expect(d.ending).toBe(false);
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'refuses the inherited name %j as a transfer destination (own-property allowlist)',
    async (destination) => {
      const a = new RecordingActions();
      const out = await make(a).handle({ callId: 't2b', name: 'transfer_call', args: { destination } });
      expect(out.ok).toBe(false);
      expect(a.log).toEqual([]);
      expect(JSON.stringify(a.results[0]?.[1])).toContain('unknown transfer destination');
    },
  );

  it('reports a failed transfer to the agent and keeps the call', async () => {
    const a = new RecordingActions();
    a.transferOk = false;
    const d = make(a);
    const out = await d.handle({ callId: 't3', name: 'transfer_call', args: { destination: 'sales' } });
    expect(out.ok).toBe(false);
    expect(JSON.stringify(a.results[0]?.[1])).toContain('declined');
    expect(d.ending).toBe(false);
  });

  it('validates DTMF digits', async () => {
    const a = new RecordingActions();
    await make(a).handle({ callId: 't4', name: 'send_dtmf', args: { digits: '12#a' } });
    await make(a).handle({ callId: 't5', name: 'send_dtmf', args: { digits: '12; DROP' } });
    expect(a.log).toEqual(['dtmf:12#A']);
    expect(JSON.stringify(a.results[1])).toContain('digits must be');
  });

  it('refuses tools the profile does not enable', async () => {
    const a = new RecordingActions();
    const bare = agentProfileSchema.parse({ provider: 'echo' });
    await make(a, bare).handle({ callId: 't6', name: 'end_call', args: {} });
    await make(a, bare).handle({ callId: 't7', name: 'rm_rf', args: {} });
    expect(a.log).toEqual([]);
    expect(JSON.stringify(a.results)).toContain('end_call is not enabled');
    expect(JSON.stringify(a.results)).toContain('unknown tool');
  });

  it('calls a webhook and returns its body to the model', async () => {
    const a = new RecordingActions();
    const out = await make(a).handle({ callId: 't8', name: 'lookup_order', args: { id: 'A17' } });
    expect(out.ok).toBe(true);
    expect(a.results[0]).toEqual(['t8', { status: 'shipped', order: 'A17' }]);
    expect(received.at(-1)).toEqual({
      id: 'A17',
      _switchboard: { callId: 'call-1', tenant: 'acme', tool: 'lookup_order' },
    });
  });

  it('refuses a loopback webhook unless allowed', async () => {
    const a = new RecordingActions();
    const before = received.length;
    const out = await make(a).handle({ callId: 't9', name: 'guarded', args: {} });
    expect(out.ok).toBe(false);
    expect(JSON.stringify(a.results[0])).toContain('private or loopback');
    expect(received.length).toBe(before);
  });
});

describe('callWebhook', () => {
  it('times out', async () => {
    const r = await callWebhook({
      url: `http://127.0.0.1:${port}/slow`,
      args: {},
      timeoutMs: 100,
      allowPrivate: true,
      context: { callId: 'c', tenant: 't', tool: 'x' },
    });
    expect(r).toEqual({ ok: false, error: 'webhook timed out after 100 ms' });
  });

  it('refuses names that resolve to private addresses', async () => {
    const r = await callWebhook(
      {
        url: 'https://hooks.example.com/x',
        args: {},
        timeoutMs: 100,
        allowPrivate: false,
        context: { callId: 'c', tenant: 't', tool: 'x' },
      },
      () => Promise.resolve(['10.1.2.3']),
    );
    expect(r).toMatchObject({ ok: false });
  });

  it('classifies addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.0.0.1',
      '192.168.1.1',
      '172.20.0.1',
      '169.254.169.254',
      '::1',
      'fd00::1',
      '::ffff:127.0.0.1',
    ]) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111'])
      expect(isPrivateAddress(a), a).toBe(false);
  });
});
