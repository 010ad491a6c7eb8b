/**
 * Kamailio as a digest-authenticating registrar (test/peers/kamailio/registrar.cfg): one fixed credential,
 * usrloc in memory (a restart forgets every binding), 423 below `minExpiresS`, optional SHA-256 challenges,
 * UDP and TCP on the same address and port.
 * Reads back from its log the REGISTERs it received and the bindings it saved.
 */
import { fileURLToPath } from 'node:url';
import { Kamailio } from './kamailio.js';

export const REGISTRAR_CFG = fileURLToPath(new URL('../peers/kamailio/registrar.cfg', import.meta.url));

export interface RegistrarOptions {
  readonly listenIp: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly minExpiresS: number;
  readonly sha256?: boolean;
}

/** One REGISTER as the registrar logged it. */
export interface LoggedRegister {
  readonly source: string;
  /** `udp` or `tcp`. */
  readonly proto: string;
  readonly cseq: string;
  readonly expires: string;
  readonly contact: string;
  /** The Authorization header as received ("" when absent). */
  readonly authorization: string;
}

const REGISTER_LINE =
  /PEER request REGISTER \S+ from (\S+) proto=\[([^\]]*)\] cseq=\[([^\]]*)\] route=\[[^\]]*\] expires=\[([^\]]*)\] contact=\[([^\]]*)\] auth=\[[^\]]*\] authorization=\[([^\]]*)\]/g;

export class Registrar {
  private constructor(
    readonly kamailio: Kamailio,
    readonly options: RegistrarOptions,
  ) {}

  static async start(options: RegistrarOptions): Promise<Registrar> {
    const kamailio = await Kamailio.start({
      config: REGISTRAR_CFG,
      listenIp: options.listenIp,
      port: options.port,
      listenFromConfig: true,
      defines: {
        LISTEN_UDP: `udp:${options.listenIp}:${options.port}`,
        LISTEN_TCP: `tcp:${options.listenIp}:${options.port}`,
        REG_USER: `"${options.username}"`,
        REG_PASSWORD: `"${options.password}"`,
        MIN_EXPIRES: String(options.minExpiresS),
        ...(options.sha256 === true ? { SHA256: '1' } : {}),
      },
    });
    return new Registrar(kamailio, options);
  }

  get address(): string {
    return this.kamailio.address;
  }

  log(): string {
    return this.kamailio.log();
  }

  registers(): LoggedRegister[] {
    return [...this.log().matchAll(REGISTER_LINE)].map((m) => ({
      source: m[1] ?? '',
      proto: m[2] ?? '',
      cseq: m[3] ?? '',
      expires: m[4] ?? '',
      contact: m[5] ?? '',
      authorization: m[6] === '<null>' ? '' : (m[6] ?? ''),
    }));
  }

  /** Bindings saved (`PEER registered` lines), i.e. REGISTERs answered 200. */
  saved(): number {
    return this.log().match(/PEER registered /g)?.length ?? 0;
  }

  /** Challenges sent (401s). */
  challenges(): number {
    return this.log().match(/PEER register challenge /g)?.length ?? 0;
  }

  stop(): Promise<void> {
    return this.kamailio.stop();
  }
}
