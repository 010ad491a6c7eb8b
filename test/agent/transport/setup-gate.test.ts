import { describe, expect, it } from 'vitest';
import { SetupGate } from '../../../src/agent/transport/setup-gate.js';

describe('SetupGate', () => {
  it('holds control messages until setup completes, then sends them in order', () => {
    const sent: string[] = [];
    const session = { isOpen: true, send: (d: string) => sent.push(d) };
    const gate = new SetupGate(session);
    gate.send('a');
    gate.send('b');
    expect(sent).toEqual([]);
    gate.release();
    expect(sent).toEqual(['a', 'b']);
    gate.send('c');
    expect(sent).toEqual(['a', 'b', 'c']);
  });

  it('holds again during a reconnect and while the socket is closed', () => {
    const sent: string[] = [];
    const session = { isOpen: true, send: (d: string) => sent.push(d) };
    const gate = new SetupGate(session);
    gate.release();
    gate.hold();
    gate.send('x');
    session.isOpen = false;
    gate.flush();
    expect(sent).toEqual([]);
    session.isOpen = true;
    gate.release();
    expect(sent).toEqual(['x']);
  });
});
