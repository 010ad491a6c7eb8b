/**
 * Wires a RegisterClient to the embedded stack: the registrar's next hop by RFC 3263 (its URI with the
 * binding's `;transport=`, so SRV then A/AAAA; the resolver caches by TTL), our Contact on that transport
 * with the binding's user, a Call-ID kept for the binding's life (§10.2.4: refreshes reuse it), client
 * transactions through the endpoint, CRLF keep-alives on the flow. A target that times out or answers 503
 * (a refused TCP connection counts as one, §8.1.3.1) is left for the next resolved one on the next attempt.
 */
import { randomInt } from 'node:crypto';
import type { Logger } from '../../observability/logger.js';
import type { Registration, RegistrationBinding } from '../registration.js';
import { randomToken, type RequestCallbacks, type SipEndpoint } from './endpoint.js';
import type { SipRequest } from './message.js';
import { RegisterClient } from './register-client.js';
import { uriHost } from './syntax.js';
import type { Scheduler } from './transaction.js';
import type { Flow } from './transport.js';

export interface RegistrationHost {
  readonly endpoint: SipEndpoint;
  readonly scheduler: Scheduler;
  readonly publicHost: string;
  readonly logger: Logger;
  /** RFC 3263 targets in the order to try them (EmbeddedSignaling.resolveTargets). */
  readonly resolveTargets: (uri: string) => Promise<readonly Flow[]>;
}

/** Start registering `binding`; the Registration retries on its own until unregister(). */
export function startRegistration(host: RegistrationHost, binding: RegistrationBinding): Registration {
  const { endpoint } = host;
  const registrar = binding.registrar.replace(/^<|>$/g, '');
  const nextHop = /;transport=/i.test(registrar) ? registrar : `${registrar};transport=${binding.transport}`;
  const contactUri = endpoint.contact(binding.transport, binding.contactUser).replace(/^<|>$/g, '');
  /** Which resolved target to use; moves on when one fails. */
  let preferred = 0;
  let current: Flow | undefined;

  const send = (request: SipRequest, callbacks: RequestCallbacks): void => {
    const failed = (reason: string): void =>
      callbacks.onResponse(endpoint.createResponse(request, 503, { reason }));
    host.resolveTargets(nextHop).then(
      (targets) => {
        const usable = targets.filter((t) => t.transport === binding.transport);
        if (usable.length === 0) return failed(`no ${binding.transport} target for ${registrar}`);
        const target = usable[preferred % usable.length] as Flow;
        current = target;
        endpoint.sendRequest(request, target, {
          onResponse: (res) => {
            if (res.status === 503) preferred++;
            callbacks.onResponse(res);
          },
          onTimeout: () => {
            preferred++;
            callbacks.onTimeout();
          },
        });
      },
      // A name that does not resolve: the resolver's reason ("dns: no SRV/A records for …").
      (err: unknown) => failed((err as Error).message),
    );
  };

  const client: RegisterClient = new RegisterClient(
    { ...binding, registrar },
    {
      scheduler: host.scheduler,
      logger: host.logger,
      now: () => Date.now(),
      random: () => randomInt(0, 1_000_000) / 1_000_000,
      contactUri,
      callId: `${randomToken(12)}@${uriHost(host.publicHost)}`,
      newTag: () => randomToken(),
      send,
      ping: () =>
        current === undefined ? Promise.resolve(false) : endpoint.transport.sendKeepAlive(current),
    },
  );
  client.start();
  return client;
}
