import { describe, expect, it } from 'vitest';
import { AudioQueue } from '../../../src/agent/transport/audio-queue.js';

describe('AudioQueue', () => {
  it('is FIFO and counts bytes (strings by UTF-8 length)', () => {
    const q = new AudioQueue(100);
    q.push('ab');
    q.push(Buffer.alloc(3));
    q.push('é');
    expect(q.bytes).toBe(7);
    expect(q.length).toBe(3);
    expect(q.shift()).toBe('ab');
    expect(q.shift()).toEqual(Buffer.alloc(3));
    expect(q.shift()).toBe('é');
    expect(q.shift()).toBeUndefined();
    expect(q.bytes).toBe(0);
  });

  it('drops the oldest on overflow and accounts for it', () => {
    const q = new AudioQueue(25);
    for (let i = 0; i < 4; i++) expect(q.push(`${i}`.repeat(10))).toBe(i < 2 ? 0 : 10);
    expect(q.droppedBytes).toBe(20);
    expect(q.bytes).toBe(20);
    expect(q.shift()).toBe('2222222222');
  });

  it('drops a message larger than the whole bound instead of emptying the queue', () => {
    const q = new AudioQueue(10);
    q.push('12345');
    expect(q.push('x'.repeat(11))).toBe(11);
    expect(q.length).toBe(1);
    expect(q.droppedBytes).toBe(11);
  });

  it('stays correct across compaction', () => {
    const q = new AudioQueue(1_000_000);
    for (let i = 0; i < 5000; i++) q.push(String(i));
    for (let i = 0; i < 4000; i++) expect(q.shift()).toBe(String(i));
    q.push('tail');
    expect(q.length).toBe(1001);
    expect(q.shift()).toBe('4000');
    q.clear();
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
  });
});
