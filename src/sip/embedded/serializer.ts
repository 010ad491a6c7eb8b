/**
 * Message serializer. Content-Length is always recomputed from the body's byte length (§20.14), so a UTF-8
 * body can never be mis-framed.
 */
import type { SipMessage } from './message.js';

export function serializeMessage(message: SipMessage): Buffer {
  const startLine =
    message.kind === 'request'
      ? `${message.method} ${message.uri} SIP/2.0`
      : `SIP/2.0 ${message.status} ${message.reason}`;
  let head = `${startLine}\r\n`;
  for (const [name, value] of message.headers) {
    if (name === 'Content-Length') continue;
    head += `${name}: ${value}\r\n`;
  }
  head += `Content-Length: ${message.body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'utf8'), message.body]);
}
