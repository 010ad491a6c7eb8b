/**
 * Where a SIP message came from or goes to (RFC 3261 §18), and the two routing rules the transport applies to
 * it: the `received`/`rport` annotation of an inbound request's top Via (§18.2.1, RFC 3581) and the address a
 * response goes back to (§18.2.2). Pure functions over header text.
 */
import type { SipTransport } from '../signaling.js';
import type { SipMessage } from './message.js';
import { formatVia, parseVia, socketHost } from './syntax.js';

/** Where a message came from / goes to. `connectionId` pins a TCP or TLS connection. */
export interface Flow {
  readonly transport: SipTransport;
  readonly address: string;
  readonly port: number;
  readonly connectionId?: number;
  /** Outbound TLS: the host name sent as SNI and checked against the certificate (default: the address). */
  readonly serverName?: string;
  /** Outbound TLS: `false` accepts a certificate that does not verify (a lab PBX's self-signed one). */
  readonly tlsVerify?: boolean;
}

/** TCP and TLS are streams over a connection: reliable (§17.1.1.2), with responses on the same connection. */
export function isStream(transport: SipTransport): boolean {
  return transport !== 'udp';
}

/** The port a URI without one means for a transport (§19.1.2: 5061 for TLS / sips:, else 5060). */
export function defaultPort(transport: SipTransport): number {
  return transport === 'tls' ? 5061 : 5060;
}

export function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * §18.2.1: add `received` when the top Via's sent-by host differs from the packet source; RFC 3581: fill in
 * `rport` when the client asked for it (and then always add `received`).
 */
export function annotateVia(message: SipMessage, flow: Flow): void {
  const top = message.headers.get('Via');
  if (top === undefined) return;
  const via = parseVia(top);
  if (via === undefined) return;
  const params = new Map(via.params);
  const wantsRport = params.has('rport');
  if (via.host !== flow.address || wantsRport) params.set('received', flow.address);
  if (wantsRport) params.set('rport', String(flow.port));
  message.headers.setFirst('Via', formatVia({ ...via, params }));
}

/**
 * §18.2.2: where a response to a request with this top Via goes. Over TCP/TLS: the connection the request came
 * on, or, once it has closed, a new connection (same transport) to `received` and the sent-by port. Over UDP:
 * `received` and `rport` (RFC 3581), else the sent-by port.
 */
export function responseTarget(topVia: string | undefined, requestFlow: Flow, connectionOpen = true): Flow {
  if (isStream(requestFlow.transport) && connectionOpen) return requestFlow;
  const via = topVia === undefined ? undefined : parseVia(topVia);
  if (via === undefined) return requestFlow;
  const address = socketHost(via.params.get('received') ?? via.host);
  if (isStream(requestFlow.transport))
    return {
      transport: requestFlow.transport,
      address,
      port: via.port ?? defaultPort(requestFlow.transport),
    };
  const rport = via.params.get('rport');
  const port = rport !== undefined && /^\d+$/.test(rport) ? Number(rport) : (via.port ?? 5060);
  return { transport: 'udp', address, port };
}

/**
 * RFC 5923 §5: a request whose top Via carries `alias` offers its connection for requests to its sent-by
 * address. Returns that `host:port`, or undefined when there is no alias or it names another host than the
 * connection's source (an alias must never divert traffic meant for someone else).
 */
export function viaAlias(
  topVia: string | undefined,
  flow: Flow,
): { address: string; port: number } | undefined {
  const via = topVia === undefined ? undefined : parseVia(topVia);
  if (via === undefined || !via.params.has('alias')) return undefined;
  const host = normaliseAddress(socketHost(via.host));
  if (host !== flow.address) return undefined;
  return { address: host, port: via.port ?? defaultPort(flow.transport) };
}
