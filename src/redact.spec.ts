import { describe, expect, it } from '@jest/globals';
import { Redactor } from './redact.js';

describe('Redactor', () => {
  const redactor = new Redactor(['phs_secret_value', undefined, 'ab']);

  it('removes secrets and URL passwords, and keeps the rest', () => {
    expect(redactor.text('Bearer phs_secret_value failed')).toBe('Bearer [redacted] failed');
    expect(redactor.text('redis://user:hunter2@cache:6379/0 refused')).toBe(
      'redis://user:***@cache:6379/0 refused',
    );
    expect(redactor.text('about abc')).toBe('about abc'); // too short to be a secret: left alone
  });

  it('turns any thrown value into one short line', () => {
    const long = new Error(`line one\nline two phs_secret_value ${'x'.repeat(400)}`);
    const line = redactor.error(long);
    expect(line).not.toContain('\n');
    expect(line).not.toContain('phs_secret_value');
    expect(line.length).toBeLessThanOrEqual(300);
    expect(redactor.error('plain string')).toBe('plain string');
  });
});
