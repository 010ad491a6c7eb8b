import { describe, expect, it } from 'vitest';
import { formatDtmfRelay, normalizeDigit, parseInfoDtmf } from '../../src/sip/dtmf-info.js';

describe('parseInfoDtmf', () => {
  it('reads application/dtmf-relay with duration', () => {
    expect(parseInfoDtmf('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n')).toEqual({
      digit: '5',
      durationMs: 160,
    });
  });

  it('tolerates LF line endings, case and blanks', () => {
    expect(parseInfoDtmf('Application/DTMF-Relay; charset=utf-8', 'signal = #\nduration= 250')).toEqual({
      digit: '#',
      durationMs: 250,
    });
  });

  it('maps event codes and letters', () => {
    expect(parseInfoDtmf('application/dtmf-relay', 'Signal=10\r\n')).toEqual({ digit: '*' });
    expect(parseInfoDtmf('application/dtmf-relay', 'Signal=11')).toEqual({ digit: '#' });
    expect(parseInfoDtmf('application/dtmf-relay', 'Signal=a')).toEqual({ digit: 'A' });
    expect(normalizeDigit('15')).toBe('D');
    expect(normalizeDigit('16')).toBeUndefined();
  });

  it('omits a missing, zero or absurd duration', () => {
    expect(parseInfoDtmf('application/dtmf-relay', 'Signal=1\r\nDuration=0')).toEqual({ digit: '1' });
    expect(parseInfoDtmf('application/dtmf-relay', 'Signal=1\r\nDuration=-5')).toEqual({ digit: '1' });
    expect(parseInfoDtmf('application/dtmf-relay', 'Signal=1\r\nDuration=9999999')).toEqual({ digit: '1' });
  });

  it('reads application/dtmf as a single digit', () => {
    expect(parseInfoDtmf('application/dtmf', '7')).toEqual({ digit: '7' });
    expect(parseInfoDtmf('application/dtmf', ' *\r\n')).toEqual({ digit: '*' });
  });

  it.each([
    ['application/dtmf-relay', 'Duration=160'],
    ['application/dtmf-relay', 'Signal=X'],
    ['application/dtmf-relay', 'Signal=55'],
    ['application/dtmf-relay', ''],
    ['application/dtmf', '12345'],
    ['application/dtmf', ''],
    ['text/plain', 'Signal=5'],
    ['application/sdp', 'v=0'],
    ['application/dtmf-relay', 'Signal=5\r\n' + 'x'.repeat(5000)],
  ])('returns undefined for %s %j', (type, body) => {
    expect(parseInfoDtmf(type, body)).toBeUndefined();
  });
});

describe('formatDtmfRelay', () => {
  it('round-trips', () => {
    const body = formatDtmfRelay('9', 200);
    expect(body).toBe('Signal=9\r\nDuration=200\r\n');
    expect(parseInfoDtmf('application/dtmf-relay', body)).toEqual({ digit: '9', durationMs: 200 });
  });
});
