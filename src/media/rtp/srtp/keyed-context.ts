/**
 * What the SRTP and SRTCP contexts share: one direction's session keys under one suite, the AES-CM
 * keystream generator (absent for AEAD), the per-SSRC state and the preallocated IV buffers.
 */
import { AesCounterMode } from './aes-cm.js';
import type { SessionKeys } from './kdf.js';
import { StreamTable } from './streams.js';
import type { SrtpSuite } from './suites.js';

export abstract class KeyedContext {
  protected readonly suite: SrtpSuite;
  protected readonly keys: SessionKeys;
  protected readonly aes: AesCounterMode | undefined;
  protected readonly streams = new StreamTable();
  /** The AES-CM IV (16 octets) of the packet at hand. */
  protected readonly iv = Buffer.alloc(16);
  /** The GCM IV (12 octets) of the packet at hand. */
  protected readonly gcmIv = Buffer.alloc(12);

  constructor(suite: SrtpSuite, keys: SessionKeys) {
    this.suite = suite;
    this.keys = keys;
    this.aes = suite.aead ? undefined : new AesCounterMode(keys.encryptionKey);
  }
}
