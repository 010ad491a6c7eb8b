/** The raw key/value layer under TenantStoreImpl: strings in, strings out, no plaintext secrets. */
export interface RecordBackend {
  readonly kind: 'redis' | 'file';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Keys starting with `prefix`, sorted. */
  keys(prefix: string): Promise<string[]>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
