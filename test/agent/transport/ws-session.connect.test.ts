import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AgentError } from '../../../src/agent/agent.js';
import { WsSession, type WsSessionOptions } from '../../../src/agent/transport/ws-session.js';
import { captureLogger, deadUrl, startServer, trackUnhandledRejections, type TestServer } from './helpers.js';

const unhandled = trackUnhandledRejections();
const servers: TestServer[] = [];
const sessions: WsSession[] = [];

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(() => {
  unhandled.stop();
  expect(unhandled.count()).toBe(0);
});

function session(opts: Partial<WsSessionOptions> & Pick<WsSessionOptions, 'url'>): WsSession {
  const s = new WsSession({
    logger: captureLogger().logger,
    onOpen: () => undefined,
    onMessage: () => undefined,
    heartbeatIntervalMs: 0,
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    ...opts,
  });
  sessions.push(s);
  return s;
}

async function rejection(p: Promise<unknown>): Promise<AgentError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  return err as AgentError;
}

describe('WsSession connect', () => {
  it('opens, passes headers, runs onOpen before resolving and delivers messages that arrive during onOpen', async () => {
    let authHeader: string | undefined;
    const server = await startServer({}, (ws) => {
      ws.on('message', (data) => {
        if ((data as Buffer).toString() === 'setup') ws.send('setup.done');
      });
    });
    server.wss.on('connection', (_ws, req) => {
      authHeader = req.headers.authorization;
    });
    servers.push(server);
    const messages: string[] = [];
    let setupDone!: () => void;
    const done = new Promise<void>((r) => (setupDone = r));
    const opens: boolean[] = [];
    const s = session({
      url: server.url,
      headers: { Authorization: 'Bearer sk-test-SECRET123' },
      onOpen: async ({ reconnect }) => {
        opens.push(reconnect);
        s.send('setup');
        await done; // the provider waits for its setup reply, which must still reach onMessage
      },
      onMessage: (data, isBinary) => {
        expect(isBinary).toBe(false);
        messages.push(data as string);
        if (data === 'setup.done') setupDone();
      },
    });
    const openEvents: boolean[] = [];
    s.on('open', ({ reconnect }) => openEvents.push(reconnect));
    expect(s.isOpen).toBe(false);
    await s.connect();
    expect(s.isOpen).toBe(true);
    expect(opens).toEqual([false]);
    expect(openEvents).toEqual([false]);
    expect(messages).toEqual(['setup.done']);
    expect(authHeader).toBe('Bearer sk-test-SECRET123');
    expect(s.stats).toMatchObject({ reconnects: 0, sentMessages: 1, receivedMessages: 1 });
  });

  it('delivers binary frames as Buffers', async () => {
    const server = await startServer({}, (ws) => ws.send(Buffer.from([1, 2, 3]), { binary: true }));
    servers.push(server);
    const got: Array<[Buffer | string, boolean]> = [];
    const s = session({ url: server.url, onMessage: (d, b) => got.push([d, b]) });
    await s.connect();
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([[Buffer.from([1, 2, 3]), true]]);
  });

  it('401 on upgrade is a fatal auth error without retries', async () => {
    let upgrades = 0;
    const server = await startServer({
      verifyClient: (_info, cb) => {
        upgrades++;
        cb(false, 401, 'Unauthorized');
      },
    });
    servers.push(server);
    const { logger, lines } = captureLogger();
    const s = session({ url: server.url, logger, headers: { Authorization: 'Bearer sk-test-SECRET123' } });
    const err = await rejection(s.connect());
    expect(err.code).toBe('AGENT_AUTH_FAILED');
    expect(err.retryable).toBe(false);
    expect(upgrades).toBe(1);
    expect(s.isOpen).toBe(false);
    expect(lines.join('')).not.toContain('SECRET');
  });

  it('other 4xx is fatal AGENT_CONNECT_FAILED without retries', async () => {
    let upgrades = 0;
    const server = await startServer({ verifyClient: (_i, cb) => (upgrades++, cb(false, 404)) });
    servers.push(server);
    const err = await rejection(session({ url: server.url }).connect());
    expect(err.code).toBe('AGENT_CONNECT_FAILED');
    expect(upgrades).toBe(1);
  });

  it('503 is retried with backoff, then fails', async () => {
    let upgrades = 0;
    const server = await startServer({ verifyClient: (_i, cb) => (upgrades++, cb(false, 503)) });
    servers.push(server);
    const err = await rejection(
      session({ url: server.url, retry: { maxAttempts: 3, baseDelayMs: 5 } }).connect(),
    );
    expect(err.code).toBe('AGENT_CONNECT_FAILED');
    expect(err.retryable).toBe(true);
    expect(upgrades).toBe(3);
  });

  it('recovers when a 503 clears before the attempts run out', async () => {
    let upgrades = 0;
    const server = await startServer({ verifyClient: (_i, cb) => cb(++upgrades > 1, 503) });
    servers.push(server);
    const s = session({ url: server.url });
    await s.connect();
    expect(upgrades).toBe(2);
    expect(s.isOpen).toBe(true);
  });

  it('server down: retries then rejects, never logging the URL query', async () => {
    const url = (await deadUrl()) + '?key=SECRET-IN-QUERY';
    const { logger, lines } = captureLogger();
    const s = session({ url, logger, retry: { maxAttempts: 2, baseDelayMs: 5 } });
    const err = await rejection(s.connect());
    expect(err.code).toBe('AGENT_CONNECT_FAILED');
    expect(lines.filter((l) => l.includes('attempt failed'))).toHaveLength(2);
    expect(lines.join('')).not.toContain('SECRET');
  });

  it('an onOpen that throws an AgentError rejects connect with it', async () => {
    const server = await startServer();
    servers.push(server);
    const s = session({
      url: server.url,
      onOpen: () => {
        throw new AgentError('AGENT_AUTH_FAILED', 'setup rejected: invalid key');
      },
    });
    const err = await rejection(s.connect());
    expect(err.code).toBe('AGENT_AUTH_FAILED');
    expect(server.connections).toHaveLength(1);
  });

  it('a close during setup is classified: an auth close (Gemini 1008 "API key not valid") is fatal', async () => {
    const server = await startServer({}, (ws) => ws.close(1008, 'API key not valid'));
    servers.push(server);
    const seen: Array<[number, string]> = [];
    const s = session({
      url: server.url,
      onOpen: () => new Promise<void>(() => undefined), // waits for a setup reply that never comes
      classifyClose: (code, reason) => {
        seen.push([code, reason]);
        return /api key/i.test(reason)
          ? { retryable: false, code: 'AGENT_AUTH_FAILED' }
          : { retryable: true };
      },
    });
    const err = await rejection(s.connect());
    expect(err.code).toBe('AGENT_AUTH_FAILED');
    expect(seen).toEqual([[1008, 'API key not valid']]);
    expect(server.connections).toHaveLength(1);
  });

  it('a retryable close during setup is retried', async () => {
    let n = 0;
    const server = await startServer({}, (ws) => {
      if (++n === 1) ws.close(1011, 'overloaded');
      else ws.on('message', () => ws.send('ready'));
    });
    servers.push(server);
    let ready!: () => void;
    const s = session({
      url: server.url,
      onOpen: () => {
        const p = new Promise<void>((r) => (ready = r));
        s.send('setup');
        return p;
      },
      onMessage: () => ready(),
    });
    await s.connect();
    expect(n).toBe(2);
  });

  it('an onOpen that never finishes hits the connect timeout', async () => {
    const server = await startServer();
    servers.push(server);
    const s = session({
      url: server.url,
      connectTimeoutMs: 50,
      retry: { maxAttempts: 2, baseDelayMs: 1 },
      onOpen: () => new Promise<void>(() => undefined),
    });
    const err = await rejection(s.connect());
    expect(err.message).toMatch(/timed out/);
    expect(server.connections).toHaveLength(2);
  });

  it('close() during connect rejects connect with AGENT_CLOSED; close is idempotent and emits closed once', async () => {
    const url = await deadUrl();
    const s = session({
      url,
      retry: { maxAttempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000 },
      random: () => 0.5,
    });
    const closed: number[] = [];
    s.on('closed', ({ code }) => closed.push(code));
    const p = s.connect();
    await new Promise((r) => setTimeout(r, 30));
    const [a, b] = [s.close(), s.close()];
    expect(a).toBe(b);
    await a;
    expect((await rejection(p)).code).toBe('AGENT_CLOSED');
    await s.close();
    expect(closed).toEqual([1000]);
  });

  it('close() sends a close frame with the code', async () => {
    const server = await startServer();
    servers.push(server);
    const s = session({ url: server.url });
    await s.connect();
    const serverClosed = new Promise<number>((r) => server.connections[0]!.once('close', (code) => r(code)));
    await s.close(4001, 'bye');
    expect(await serverClosed).toBe(4001);
    expect(s.isOpen).toBe(false);
    s.send('ignored');
    s.sendAudio('ignored');
    expect(s.queuedAudioBytes).toBe(0);
  });
});
