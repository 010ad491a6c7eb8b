import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
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

function session(opts: Partial<WsSessionOptions> & Pick<WsSessionOptions, 'url'>): WsSession {
  const s = new WsSession({
    logger: captureLogger().logger,
    onOpen: () => undefined,
    onMessage: () => undefined,
    heartbeatIntervalMs: 0,
    ...opts,
  });
  sessions.push(s);
  return s;
}

/** Just enough of a ws client to hold bufferedAmount high and release writes one by one. */
class FakeSocket extends EventEmitter {
  readyState: number = WebSocket.CONNECTING;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  readonly pending: Array<() => void> = [];

  constructor() {
    super();
    setImmediate(() => {
      this.readyState = WebSocket.OPEN;
      this.emit('open');
    });
  }

  send(data: string, cb: (err?: Error) => void): void {
    this.sent.push(data);
    this.bufferedAmount += data.length;
    this.pending.push(() => {
      this.bufferedAmount -= data.length;
      cb();
    });
  }

  /** Lets the oldest write reach the network. */
  flushOne(): void {
    this.pending.shift()?.();
  }

  ping(): void {}
  close(): void {
    this.terminate();
  }
  terminate(): void {
    if (this.readyState === WebSocket.CLOSED) return;
    this.readyState = WebSocket.CLOSED;
    setImmediate(() => this.emit('close', 1006, Buffer.alloc(0)));
  }
}

describe('WsSession send paths', () => {
  it('setup sent in onOpen goes before audio queued earlier; audio keeps its order', async () => {
    const server = await startServer();
    servers.push(server);
    const s = session({
      url: server.url,
      onOpen: () => {
        s.sendAudio('audio-during-setup');
        s.send('setup');
      },
    });
    s.sendAudio('audio-1');
    s.sendAudio('audio-2');
    await s.connect();
    s.sendAudio('audio-3');
    await waitFor(() => server.received.length === 5);
    expect(server.received).toEqual(['setup', 'audio-1', 'audio-2', 'audio-during-setup', 'audio-3']);
    expect(s.queuedAudioBytes).toBe(0);
    expect(s.stats.sentMessages).toBe(5);
  });

  it('a control message overtakes audio held back by bufferedAmount (barge-in bypasses audio)', async () => {
    const fake = new FakeSocket();
    const s = session({
      url: 'ws://fake.invalid/',
      highWaterMarkBytes: 10,
      webSocketFactory: () => fake as unknown as WebSocket,
    });
    await s.connect();
    for (let i = 0; i < 5; i++) s.sendAudio(`audio-${i}xx`); // 9 bytes each
    // Only two fit under the 10-byte high-water mark (9 < 10, then 18 ≥ 10 stops).
    expect(fake.sent).toEqual(['audio-0xx', 'audio-1xx']);
    expect(s.queuedAudioBytes).toBe(27);
    s.send('cancel');
    expect(fake.sent.at(-1)).toBe('cancel');
    // Each completed write tops the socket up again.
    while (fake.pending.length > 0) fake.flushOne();
    expect(fake.sent).toEqual(['audio-0xx', 'audio-1xx', 'cancel', 'audio-2xx', 'audio-3xx', 'audio-4xx']);
    expect(s.queuedAudioBytes).toBe(0);
  });

  it('overflow drops the oldest audio, counts it and warns once', async () => {
    const server = await startServer();
    servers.push(server);
    const { logger, lines } = captureLogger();
    const s = session({ url: server.url, maxQueuedBytes: 100, logger });
    for (let i = 0; i < 15; i++) s.sendAudio(`chunk-${String(i).padStart(4, '0')}`); // 10 bytes each
    expect(s.queuedAudioBytes).toBe(100);
    expect(s.stats.droppedAudioBytes).toBe(50);
    expect(lines.filter((l) => l.includes('audio queue overflow'))).toHaveLength(1);
    await s.connect();
    await waitFor(() => server.received.length === 10);
    expect(server.received[0]).toBe('chunk-0005');
    expect(server.received.at(-1)).toBe('chunk-0014');
  });

  it('control messages while disconnected are dropped and counted, not thrown', async () => {
    const server = await startServer();
    servers.push(server);
    const s = session({ url: server.url });
    expect(() => s.send('too early')).not.toThrow();
    expect(s.stats.droppedControlMessages).toBe(1);
  });
});
