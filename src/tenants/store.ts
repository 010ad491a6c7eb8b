/** A provider credential as the call layer uses it: decrypted fields, e.g. `{ apiKey, url }`. */
export interface CredentialRecord {
  readonly tenant: string;
  readonly provider: string;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly updatedAt: string;
}

/** An outbound registration (issue 13) as stored: every field sealed together, the password with them. */
export interface RegistrationRecord {
  readonly tenant: string;
  readonly name: string;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly updatedAt: string;
}

/** An event webhook subscription (issue 16) as stored: url, secret and events sealed together. */
export interface WebhookRecord {
  readonly tenant: string;
  readonly name: string;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly updatedAt: string;
}

export interface ApiKeyRecord {
  readonly id: string;
  readonly tenant: string;
  readonly createdAt: string;
}

/**
 * Tenant data: provider credentials (encrypted at rest) and tenant API keys (stored hashed).
 * Two implementations pass one contract suite: Redis (production, several instances) and files (default).
 */
export interface TenantStore {
  readonly kind: 'redis' | 'file';
  /** Seal and store `fields` (already validated against the provider's schema by the caller). */
  putCredential(tenant: string, provider: string, fields: Readonly<Record<string, unknown>>): Promise<void>;
  /** Decrypted credential, or undefined. Throws TENANT_CREDENTIAL_TAMPERED if the record fails authentication. */
  getCredential(tenant: string, provider: string): Promise<CredentialRecord | undefined>;
  deleteCredential(tenant: string, provider: string): Promise<boolean>;
  /** Providers with a stored credential for the tenant, sorted. */
  listCredentials(tenant: string): Promise<Array<{ provider: string; updatedAt: string }>>;
  /** Tenants that have at least one credential or API key, sorted. */
  listTenants(): Promise<string[]>;
  /** Seal and store a registration (validated by the caller); sealed like credentials, re-sealed on rotation. */
  putRegistration(tenant: string, name: string, fields: Readonly<Record<string, unknown>>): Promise<void>;
  getRegistration(tenant: string, name: string): Promise<RegistrationRecord | undefined>;
  deleteRegistration(tenant: string, name: string): Promise<boolean>;
  /** Stored registrations (of one tenant, or all), sorted by tenant then name. */
  listRegistrations(tenant?: string): Promise<Array<{ tenant: string; name: string }>>;
  /** Seal and store an event webhook (validated by the caller); sealed like credentials, secret included. */
  putWebhook(tenant: string, name: string, fields: Readonly<Record<string, unknown>>): Promise<void>;
  getWebhook(tenant: string, name: string): Promise<WebhookRecord | undefined>;
  deleteWebhook(tenant: string, name: string): Promise<boolean>;
  /** A tenant's event webhooks, opened, sorted by name. */
  listWebhooks(tenant: string): Promise<WebhookRecord[]>;
  /** Store a tenant API key by its SHA-256 hash. */
  putApiKey(tenant: string, id: string, tokenHash: string): Promise<void>;
  /** The key record for a token hash, or undefined. */
  findApiKey(tokenHash: string): Promise<ApiKeyRecord | undefined>;
  deleteApiKey(tenant: string, id: string): Promise<boolean>;
  /** Re-seal every credential under `cipher`'s current key. Returns how many were re-encrypted. */
  reencryptAll(): Promise<number>;
  /** How many credentials each key id seals. */
  keyUsage(): Promise<Map<string, number>>;
  /** True when the backing store answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
