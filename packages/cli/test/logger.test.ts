import { PassThrough } from 'node:stream';
import { createProgramLogger, formatLine } from '@wg-dynamic/cli';
import { describe, expect, it } from 'vitest';

function capture(pretty: boolean) {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  return { logger: createProgramLogger('test', { stream, pretty }), read: () => text };
}

describe('program logger', () => {
  it('writes JSON lines when not on a terminal', () => {
    const { logger, read } = capture(false);
    logger.info({ address: '10.0.0.2/32' }, 'lease granted');
    const line = JSON.parse(read()) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 30,
      msg: 'lease granted',
      address: '10.0.0.2/32',
      name: 'test',
    });
  });

  it('writes readable lines on a terminal', () => {
    const { logger, read } = capture(true);
    logger.warn({ peer: 'abc=', note: 'two words' }, 'connection refused');
    expect(read()).toMatch(
      /^\d\d:\d\d:\d\d WARN {2}connection refused peer=abc= note="two words"\n$/,
    );
  });

  it('never prints a private key, whatever the field holds', () => {
    const { logger, read } = capture(false);
    logger.info({ privateKey: 'c2VjcmV0', device: { privateKey: 'c2VjcmV0' } }, 'device');
    expect(read()).not.toContain('c2VjcmV0');
    expect(read()).toContain('(hidden)');
  });

  it('passes through a line that is not JSON', () => {
    expect(formatLine('plain\n')).toBe('plain\n');
  });
});
