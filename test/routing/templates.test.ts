/** Per-call template rendering: defaults, missing variables, one pass, header-name case. */
import { describe, expect, it } from 'vitest';
import { renderTemplate } from '../../src/routing/templates.js';

describe('renderTemplate', () => {
  const vars = { 'caller.number': '+1415', 'sip.headers.X-Account-Id': 'A{{caller.number}}', tenant: 't' };

  it('substitutes, defaults and reports missing names once', () => {
    const r = renderTemplate('Hi {{ caller.number }} {{caller.name|there}} {{caller.name}} {{tenant}}', vars);
    expect(r.text).toBe('Hi +1415 there  t');
    expect(r.missing).toEqual(['caller.name']);
  });

  it('never expands a value twice and matches header names case-insensitively', () => {
    expect(renderTemplate('[{{sip.headers.x-account-id}}]', vars).text).toBe('[A{{caller.number}}]');
    // Variable names other than headers are exact.
    expect(renderTemplate('{{Tenant|none}}', vars)).toEqual({ text: 'none', missing: ['Tenant'] });
  });

  it('leaves text that is not a reference alone', () => {
    expect(renderTemplate('{{ }} {x} {{1abc}}', vars).text).toBe('{{ }} {x} {{1abc}}');
  });
});
