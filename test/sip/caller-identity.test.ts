/** Parsing of identity headers from untrusted peers: PAI, RPID, Diversion, History-Info, X- headers. */
import { describe, expect, it } from 'vitest';
import { MAX_VALUE_CHARS, cleanValue, parseCallerIdentity } from '../../src/sip/caller-identity.js';

const headers = (h: Record<string, string[]>) => (name: string) =>
  h[Object.keys(h).find((k) => k.toLowerCase() === name.toLowerCase()) ?? ''] ?? [];

describe('parseCallerIdentity', () => {
  it('reads PAI (sip + tel), RPID params, Diversion order and History-Info by index', () => {
    const id = parseCallerIdentity(
      headers({
        'P-Asserted-Identity': ['"Alice, Example" <sip:%2B14155550123@carrier.example>, <tel:+14155550123>'],
        'Remote-Party-ID': ['<sip:+1999@x.example>;party=calling;screen=no;privacy=full'],
        Diversion: ['<sip:+1800@pbx.example>;reason=user-busy;counter=2', '<sip:+1700@pbx.example>'],
        'History-Info': [
          '<sip:c@h>;index=1.1.1',
          '<sip:a@h>;index=1',
          '<sip:b@h?Reason=SIP%3Bcause%3D486>;index=1.1',
        ],
        'X-Account-Id': ['acct-1'],
      }),
      ['X-Account-Id', 'X-Absent', 'Not-X'],
    );
    expect(id.assertedIdentities.map((a) => [a.uri, a.number, a.name])).toEqual([
      ['sip:%2B14155550123@carrier.example', '+14155550123', 'Alice, Example'],
      ['tel:+14155550123', '+14155550123', undefined],
    ]);
    expect(id.remotePartyId?.params).toEqual({ party: 'calling', screen: 'no', privacy: 'full' });
    expect(id.diversions.map((d) => [d.number, d.params.reason, d.params.counter])).toEqual([
      ['+1800', 'user-busy', '2'],
      ['+1700', undefined, undefined],
    ]);
    expect(id.historyInfo.map((h) => h.number)).toEqual(['a', 'b', 'c']);
    expect(id.historyInfo[1]?.params.reason).toBe('SIP;cause=486');
    expect({ ...id.headers }).toEqual({ 'X-Account-Id': 'acct-1' });
  });

  it('bounds and cleans hostile input', () => {
    const many = Array.from({ length: 50 }, (_, i) => `<sip:${i}@h>`).join(',');
    const id = parseCallerIdentity(
      headers({
        Diversion: [many, many],
        'P-Asserted-Identity': [`"${'N'.repeat(500)}\u0000\u2028" <sip:${'9'.repeat(300)}@h>`],
        'Remote-Party-ID': ['not a uri at all', '<sip:ok@h>;__proto__=x;constructor=y'],
        'X-Evil': ['a\r\nVia: injected\u0007'],
      }),
      ['X-Evil'],
    );
    expect(id.diversions).toHaveLength(8);
    const [pai] = id.assertedIdentities;
    expect(pai?.name).toHaveLength(MAX_VALUE_CHARS);
    expect(pai?.number).toHaveLength(MAX_VALUE_CHARS);
    expect(id.remotePartyId?.number).toBe('ok');
    expect(Object.getPrototypeOf(id.remotePartyId?.params)).toBeNull();
    expect(id.headers['X-Evil']).toBe('aVia: injected');
    expect(cleanValue('\t x \u0085')).toBe('x');
  });

  it('is empty for an INVITE without identity headers', () => {
    const id = parseCallerIdentity(() => [], ['X-Account-Id']);
    expect(id).toMatchObject({
      assertedIdentities: [],
      remotePartyId: undefined,
      diversions: [],
      historyInfo: [],
    });
  });
});
