/**
 * Throwaway TLS material made by the `openssl` CLI for a test run: a CA, leaf certificates it signs (IP
 * subjectAltNames, a chosen serial), and self-signed ones (a lab PBX). EC P-256 keys: quick to make. Files
 * live in a temp directory the caller removes with `cleanup()`. Nothing here is the server's code, so a
 * certificate the server accepts or refuses was judged by OpenSSL's view of it, not ours.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KeyPair {
  /** PEM certificate file. */
  readonly cert: string;
  /** PEM private key file. */
  readonly key: string;
  /** Certificate and key in one PEM file (baresip's `sip_certificate`). */
  readonly combined: string;
  /** Serial number as OpenSSL and node print it (upper-case hex). */
  readonly serial: string;
}

export interface CertificateAuthority extends KeyPair {
  readonly name: string;
}

export interface LeafOptions {
  /** File name stem, unique in the directory. */
  readonly name: string;
  readonly commonName: string;
  /** IP addresses for subjectAltName (what peers verify against a loopback address). */
  readonly ips?: readonly string[];
  readonly dns?: readonly string[];
  /** Hex serial, e.g. `1001`. */
  readonly serial?: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await run('openssl', [...args], { cwd, timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}

function sanLine(o: LeafOptions): string {
  const names = [...(o.ips ?? []).map((ip) => `IP:${ip}`), ...(o.dns ?? []).map((d) => `DNS:${d}`)];
  return names.length === 0 ? '' : `subjectAltName=${names.join(',')}\n`;
}

async function finish(dir: string, name: string): Promise<KeyPair> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  const combined = join(dir, `${name}-combined.pem`);
  const [certText, keyText] = await Promise.all([readFile(cert, 'utf8'), readFile(key, 'utf8')]);
  await writeFile(combined, certText + keyText);
  return { cert, key, combined, serial: new X509Certificate(certText).serialNumber.toUpperCase() };
}

export class TlsMaterial {
  private constructor(readonly dir: string) {}

  static async create(): Promise<TlsMaterial> {
    return new TlsMaterial(await mkdtemp(join(tmpdir(), 'sb-tls-')));
  }

  async ca(name: string): Promise<CertificateAuthority> {
    await openssl(
      [
        'req',
        '-x509',
        ...EC,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.pem`,
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
        '-set_serial',
        '0x0A',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      this.dir,
    );
    return { ...(await finish(this.dir, name)), name };
  }

  /** A leaf signed by `ca`, good for both serverAuth and clientAuth. */
  async issue(ca: CertificateAuthority, o: LeafOptions): Promise<KeyPair> {
    await openssl(
      [
        'req',
        '-new',
        ...EC,
        '-keyout',
        `${o.name}.key`,
        '-out',
        `${o.name}.csr`,
        '-subj',
        `/CN=${o.commonName}`,
      ],
      this.dir,
    );
    const ext = `${o.name}.ext`;
    await writeFile(
      join(this.dir, ext),
      `basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n${sanLine(o)}`,
    );
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        `${o.name}.csr`,
        '-CA',
        ca.cert,
        '-CAkey',
        ca.key,
        '-days',
        '2',
        '-set_serial',
        `0x${o.serial ?? '1001'}`,
        '-extfile',
        ext,
        '-out',
        `${o.name}.pem`,
      ],
      this.dir,
    );
    return await finish(this.dir, o.name);
  }

  /** A self-signed leaf (a lab PBX's certificate that no CA vouches for). */
  async selfSigned(o: LeafOptions): Promise<KeyPair> {
    const san = sanLine(o).trim();
    await openssl(
      [
        'req',
        '-x509',
        ...EC,
        '-keyout',
        `${o.name}.key`,
        '-out',
        `${o.name}.pem`,
        '-days',
        '2',
        '-subj',
        `/CN=${o.commonName}`,
        '-set_serial',
        `0x${o.serial ?? '2001'}`,
        ...(san === '' ? [] : ['-addext', san]),
      ],
      this.dir,
    );
    return await finish(this.dir, o.name);
  }

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
