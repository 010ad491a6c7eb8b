/**
 * DTMF digits and their RFC 4733 §3.2 event codes, shared by RTP telephone-events (media/) and SIP INFO
 * (sip/). A leaf module with no imports, so neither layer depends on the other.
 */
export type DtmfDigit =
  '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '*' | '#' | 'A' | 'B' | 'C' | 'D';

/** Event codes 0–15, in order. */
export const DTMF_EVENT_DIGITS: readonly DtmfDigit[] = Object.freeze([
  '0',
  '1',
  '2',
  '3',
  '4',
  '5',
  '6',
  '7',
  '8',
  '9',
  '*',
  '#',
  'A',
  'B',
  'C',
  'D',
]);
