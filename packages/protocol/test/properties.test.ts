import {
  Errno,
  MAX_LINE_SIZE,
  type MessageParser,
  ProtocolError,
  RELEASE_PREFIX,
  RequestParser,
  ResponseParser,
  serializeRequest,
  serializeResponse,
} from '@wg-dynamic/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunked, requestFields, responseFields } from './arbitraries.js';

function feed<T>(parser: MessageParser<T>, chunks: readonly Uint8Array[]) {
  const events = [];
  for (const chunk of chunks) {
    events.push(...parser.push(chunk));
    if (events.at(-1)?.ok === false) break;
  }
  return events;
}

/** Events in a comparable form: messages as they are, errors as errno and text. */
function comparable<T>(events: ReturnType<MessageParser<T>['push']>) {
  return events.map((e) => (e.ok ? e : { errno: e.error.errno, message: e.error.message }));
}

describe('round trips', () => {
  it('a serialized request parses back to the same request', () => {
    fc.assert(
      fc.property(requestFields, (fields) => {
        const events = new RequestParser().push(serializeRequest(fields));
        expect(events).toHaveLength(1);
        const [event] = events;
        if (!event?.ok) throw event?.error;
        const asked = fields.ip[4].kind !== 'release' || fields.ip[6].kind !== 'release';
        expect(event.message.ip).toEqual(fields.ip);
        const speaksPrefix = fields.extensions?.includes('prefix') ?? false;
        const none = { 4: RELEASE_PREFIX, 6: RELEASE_PREFIX };
        expect(event.message.prefix).toEqual(speaksPrefix ? (fields.prefix ?? none) : none);
        expect(event.message.extensions).toEqual(fields.extensions ?? []);
        expect(event.message.leaseStart).toBe(asked ? (fields.leaseStart ?? 0) : undefined);
        expect(event.message.leaseTime).toBe(asked ? (fields.leaseTime ?? 0) : undefined);
      }),
    );
  });

  it('a serialized response parses back to the same response', () => {
    fc.assert(
      fc.property(responseFields, (fields) => {
        const [event, ...rest] = new ResponseParser().push(serializeResponse(fields));
        expect(rest).toEqual([]);
        if (!event?.ok) throw event?.error;
        const response = event.message;
        const leased = [
          fields.ip?.[4],
          fields.ip?.[6],
          fields.prefix?.[4],
          fields.prefix?.[6],
        ].some(Boolean);
        expect(response.errno).toBe(fields.errno);
        expect(response.ip).toEqual(fields.ip);
        expect(response.routes).toEqual(fields.routes ?? []);
        expect(response.prefix).toEqual(fields.prefix ?? {});
        expect(response.extensions).toEqual(
          fields.extensions?.length ? fields.extensions : undefined,
        );
        expect(response.leaseStart).toBe(leased ? fields.leaseStart : undefined);
        if (fields.errno === Errno.Success) expect(response.errmsg).toBeUndefined();
        else if (fields.errmsg !== undefined) expect(response.errmsg).toBe(fields.errmsg);
      }),
    );
  });
});

describe('chunking', () => {
  const stream = fc
    .array(
      fc.oneof(
        requestFields.map((fields) => serializeRequest(fields)),
        fc
          .constantFrom(
            'request_ip=1\nfuture=key\n\n',
            'request_ip=1\nip=10.0.0.1/24\n\n',
            'request_ip=7\n\n',
            `request_ip=1\nx=${'y'.repeat(MAX_LINE_SIZE)}\n\n`,
            'request_ip=1\nip=::\0\n\n',
          )
          .map((text) => Buffer.from(text, 'latin1')),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((messages) => Buffer.concat(messages));

  it('any chunking of the same bytes gives the same events', () => {
    fc.assert(
      fc.property(
        stream.chain((bytes) => fc.tuple(fc.constant(bytes), chunked(bytes))),
        ([bytes, chunks]) => {
          const whole = comparable(feed(new RequestParser(), [bytes]));
          const pieces = comparable(feed(new RequestParser(), chunks));
          expect(pieces).toEqual(whole);
        },
      ),
    );
  });

  it('one byte at a time gives the same events as one write', () => {
    fc.assert(
      fc.property(stream, (bytes) => {
        const single = [...bytes].map((b) => Uint8Array.of(b));
        expect(comparable(feed(new RequestParser(), single))).toEqual(
          comparable(feed(new RequestParser(), [bytes])),
        );
      }),
      { numRuns: 30 },
    );
  });
});

describe('arbitrary bytes', () => {
  const noise = fc.array(
    fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc
        .constantFrom('request_ip=1\n', 'ip=', '\n', '=', '::/128\n', '\n\n')
        .map((t) => Buffer.from(t)),
      fc
        .uint8Array({ minLength: 4000, maxLength: 5000 })
        .map((b) => b.map((x) => (x === 10 ? 32 : x))),
    ),
    { maxLength: 12 },
  );

  for (const [name, make] of [
    ['requests', () => new RequestParser()],
    ['responses', () => new ResponseParser()],
  ] as const) {
    it(`give ${name} or a ProtocolError, never another exception, and stay bounded`, () => {
      fc.assert(
        fc.property(noise, (chunks) => {
          const parser: MessageParser<unknown> = make();
          for (const chunk of chunks) {
            const events = parser.push(chunk);
            expect(parser.bufferedBytes).toBeLessThan(MAX_LINE_SIZE);
            const failure = events.findIndex((e) => !e.ok);
            if (failure !== -1) {
              expect(failure).toBe(events.length - 1);
              const last = events[failure];
              expect(last?.ok === false && last.error).toBeInstanceOf(ProtocolError);
              return;
            }
          }
        }),
        { numRuns: 300 },
      );
    });
  }
});
