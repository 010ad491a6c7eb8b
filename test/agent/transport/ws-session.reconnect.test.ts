import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AgentErrorEvent } from '../../../src/agent/events.js';
import { WsSession, type WsSessionOptions } from '../../../src/agent/transport/ws-session.js';
import { captureLogger, startServer, trackUnhandledRejections, waitFor, type TestServer } from './helpers.js';

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

interface Recorded {
  session: WsSession;
  opens: boolean[];
  events: string[];
  errors: AgentErrorEvent[];
}

function session(opts: Partial<WsSessionOptions> & Pick<WsSessionOptions, 'url'>): Recorded {
  const opens: boolean[] = [];
  const events: string[] = [];
  const errors: AgentErrorEvent[] = [];
  const s: WsSession = new WsSession({
    logger: captureLogger().logger,
    onOpen: ({ reconnect }) => {
      opens.push(reconnect);
      s.send(reconnect ? 'setup-again' : 'setup');
    },
    onMessage: () => undefined,
    heartbeatIntervalMs: 0,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...opts,
  });
  s.on('reconnecting', ({ attempt }) => events.push(`reconnecting ${attempt}`));
  s.on('reconnected', () => events.push('reconnected'));
  s.on('open', ({ reconnect }) => events.push(`open ${reconnect}`));
  s.on('closed', ({ code }) => events.push(`closed ${code}`));
  s.on('error', (e) => {
    errors.push(e);
    events.push('error');
  });
  sessions.push(s);
  return { session: s, opens, events, errors };
}

describe('WsSession reconnect', () => {
  it('server closes mid-session (1012) → reconnects, replays onOpen, audio flows on the new connection', async () => {
    const server = await startServer();
    servers.push(server);
    const r = session({ url: server.url });
    await r.session.connect();
    await waitFor(() => server.received.length === 1);
    server.connections[0]!.close(1012, 'service restart');
    await waitFor(() => r.events.includes('reconnected'));
    expect(r.opens).toEqual([false, true]);
    expect(r.events).toEqual(['open false', 'reconnecting 1', 'open true', 'reconnected']);
    expect(r.session.stats.reconnects).toBe(1);
    r.session.sendAudio('after');
    await waitFor(() => server.received.length === 3);
    expect(server.received).toEqual(['setup', 'setup-again', 'after']);
    expect(server.connections).toHaveLength(2);
  });

  it('an abrupt drop (no close frame) is retried too', async () => {
    const server = await startServer();
    servers.push(server);
    const r = session({ url: server.url });
    await r.session.connect();
    server.connections[0]!.terminate();
    await waitFor(() => r.events.includes('reconnected'));
    expect(r.session.isOpen).toBe(true);
  });

  it('a non-retryable close (1008) is fatal: error then closed, no reconnect', async () => {
    const server = await startServer();
    servers.push(server);
    const r = session({ url: server.url });
    await r.session.connect();
    server.connections[0]!.close(1008, 'policy');
    await waitFor(() => r.events.includes('closed 1006'));
    expect(r.events).toEqual(['open false', 'error', 'closed 1006']);
    expect(r.errors[0]).toMatchObject({ code: 'AGENT_CONNECTION_LOST', fatal: true, retryable: false });
    expect(r.session.isOpen).toBe(false);
    await r.session.close();
    expect(r.events.filter((e) => e.startsWith('closed'))).toHaveLength(1);
  });

  it('classifyClose overrides the default', async () => {
    const server = await startServer();
    servers.push(server);
    const r = session({ url: server.url, classifyClose: (code) => ({ retryable: code === 4000 }) });
    await r.session.connect();
    server.connections[0]!.close(4000, 'session expired');
    await waitFor(() => r.events.includes('reconnected'));
  });

  it('server gone for good → attempts, then fatal error and closed', async () => {
    const server = await startServer();
    const r = session({ url: server.url });
    await r.session.connect();
    await server.close();
    await waitFor(() => r.events.some((e) => e.startsWith('closed')));
    expect(r.events).toEqual([
      'open false',
      'reconnecting 1',
      'reconnecting 2',
      'reconnecting 3',
      'error',
      'closed 1006',
    ]);
    expect(r.errors[0]).toMatchObject({ fatal: true, retryable: false });
  });

  it('a fatal failure with no error listener does not throw', async () => {
    const server = await startServer();
    const s = new WsSession({
      url: server.url,
      logger: captureLogger().logger,
      heartbeatIntervalMs: 0,
      retry: { maxAttempts: 1 },
      onOpen: () => undefined,
      onMessage: () => undefined,
    });
    sessions.push(s);
    const closed = new Promise<void>((resolve) => s.once('closed', () => resolve()));
    await s.connect();
    await server.close();
    await closed;
  });

  it('provider-initiated reconnect() (goAway) replaces the connection; concurrent calls share one', async () => {
    const server = await startServer();
    servers.push(server);
    const r = session({ url: server.url });
    await r.session.connect();
    const a = r.session.reconnect('goAway');
    const b = r.session.reconnect('goAway');
    expect(a).toBe(b);
    await a;
    expect(r.session.isOpen).toBe(true);
    expect(r.opens).toEqual([false, true]);
    expect(server.connections).toHaveLength(2);
    await waitFor(() => server.connections[0]!.readyState === server.connections[0]!.CLOSED);
  });

  it('heartbeat: a missing pong terminates the socket and reconnects', async () => {
    const server = await startServer({ autoPong: false });
    servers.push(server);
    const r = session({ url: server.url, heartbeatIntervalMs: 40 });
    await r.session.connect();
    await waitFor(() => r.events.includes('reconnected'));
    expect(r.opens).toEqual([false, true]);
  });

  it('heartbeat: answered pings keep the connection', async () => {
    const server = await startServer();
    servers.push(server);
    const r = session({ url: server.url, heartbeatIntervalMs: 20 });
    await r.session.connect();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.events).toEqual(['open false']);
  });

  it('close() while reconnecting stops the attempts and emits closed once', async () => {
    const server = await startServer();
    const r = session({
      url: server.url,
      retry: { maxAttempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000 },
    });
    await r.session.connect();
    await server.close();
    await waitFor(() => r.events.includes('reconnecting 1'));
    await new Promise((resolve) => setTimeout(resolve, 30));
    await r.session.close();
    expect(r.events.filter((e) => e.startsWith('closed'))).toEqual(['closed 1000']);
    expect(r.errors).toEqual([]);
  });
});
