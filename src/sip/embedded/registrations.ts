/**
 * Wires a RegisterClient to the embedded stack: the next hop from the registrar URI (§8.1.2; `transport`
 * from the binding), our Contact on that transport with the binding's user, a Call-ID kept for the
 * binding's life (§10.2.4: refreshes reuse it), client transactions through the endpoint, CRLF keep-alives
 * on the flow.
 */
import { randomInt } from 'node:crypto';
import type { Logger } from '../../observability/logger.js';
import type { Registration, RegistrationBinding } from '../registration.js';
import { randomToken, type SipEndpoint } from './endpoint.js';
import { RegisterClient } from './register-client.js';
import { uriHost } from './syntax.js';
import type { Scheduler } from './transaction.js';

export interface RegistrationHost {
  readonly endpoint: SipEndpoint;
  readonly scheduler: Scheduler;
  readonly publicHost: string;
  readonly logger: Logger;
}

/** Start registering `binding`; the Registration retries on its own until unregister(). */
export function startRegistration(host: RegistrationHost, binding: RegistrationBinding): Registration {
  const { endpoint } = host;
  const registrar = binding.registrar.replace(/^<|>$/g, '');
  const target = endpoint.targetFor(
    /;transport=/i.test(registrar) ? registrar : `${registrar};transport=${binding.transport}`,
  );
  const contactUri = endpoint
    .contact(target?.transport ?? binding.transport, binding.contactUser)
    .replace(/^<|>$/g, '');
  const unreachable = `registrar ${registrar} is not reachable over ${binding.transport} (SIP_TRANSPORTS?)`;
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
      send: (request, callbacks) => {
        if (target !== undefined) endpoint.sendRequest(request, target, callbacks);
        else queueMicrotask(() => client.fail(unreachable));
      },
      ping: () => (target === undefined ? Promise.resolve(false) : endpoint.transport.sendKeepAlive(target)),
    },
  );
  client.start();
  return client;
}
