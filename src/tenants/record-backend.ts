/** The raw key/value layer under TenantStoreImpl: strings in, strings out, no plaintext secrets. */
export interface RecordBackend {
  readonly kind: 'redis' | 'file';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<boolean>;
  /**
   * Write `value` only if the key still holds `expected` (undefined: absent), atomically against every other
   * writer, other processes included. False when someone else changed it first (re-read and retry).
   */
  compareAndSet(key: string, expected: string | undefined, value: string): Promise<boolean>;
  /** Keys starting with `prefix`, sorted. */
  keys(prefix: string): Promise<string[]>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
