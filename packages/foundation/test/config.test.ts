import { describe, expect, it } from 'vitest';
import { bool, ConfigError, int, num, oneOf, optionalStr, readConfig, redactUrl, str, url } from '../src/config.ts';

const schema = {
  PORT: int({ default: 3000, min: 0, max: 65535 }),
  NAME: str(),
  DEBUG: bool({ default: false }),
  MODE: oneOf(['a', 'b'], { default: 'a' }),
  DATABASE_URL: url({ protocols: ['postgres'], default: 'postgres://localhost/x' }),
  EXTRA: optionalStr(),
};

describe('readConfig', () => {
  it('reads typed values and applies defaults', () => {
    const config = readConfig(schema, { NAME: 'shop', PORT: '8080', DEBUG: 'yes' });
    expect(config).toEqual({
      PORT: 8080,
      NAME: 'shop',
      DEBUG: true,
      MODE: 'a',
      DATABASE_URL: 'postgres://localhost/x',
      EXTRA: undefined,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reports every problem at once', () => {
    let caught: unknown;
    try {
      readConfig(schema, { PORT: '80a', DEBUG: 'maybe', MODE: 'c', DATABASE_URL: 'mysql://x' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toMatch(/PORT must be an integer/);
    expect(problems.join('\n')).toMatch(/NAME is required/);
    expect(problems.join('\n')).toMatch(/DEBUG must be true or false/);
    expect(problems.join('\n')).toMatch(/MODE must be one of a, b/);
    expect(problems.join('\n')).toMatch(/DATABASE_URL must use postgres/);
  });

  it('enforces integer bounds and treats blank as unset', () => {
    expect(() => readConfig({ P: int({ max: 10 }) }, { P: '11' })).toThrow(/P must be <= 10/);
    expect(readConfig({ P: int({ default: 5 }) }, { P: '  ' }).P).toBe(5);
  });

  it('reads decimal numbers within bounds and refuses anything else', () => {
    expect(readConfig({ R: num({ min: 0, max: 1 }) }, { R: '0.995' }).R).toBe(0.995);
    expect(() => readConfig({ R: num({ max: 1 }) }, { R: '1.5' })).toThrow(/R must be <= 1/);
    expect(() => readConfig({ R: num() }, { R: '1e3' })).toThrow(/R must be a number, got "1e3"/);
  });

  it('never prints a password from a URL it rejects', () => {
    expect(() => readConfig({ U: url({ protocols: ['postgres'] }) }, { U: 'redis://u:hunter2@h' })).toThrow(
      /^(?![\s\S]*hunter2)/,
    );
    expect(redactUrl('postgres://me:hunter2@db:5432/x')).toBe('postgres://me:***@db:5432/x');
  });
});
