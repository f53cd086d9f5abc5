import {
  type ClientAction,
  type ClientEvent,
  ClientMachine,
  EMPTY_MEMORY,
  type Families,
  type Instant,
  type Memory,
  type TimerName,
  type WantedPrefixes,
} from '@wg-dynamic/client';
import type { RequestFields, Response } from '@wg-dynamic/protocol';
import { ResponseParser } from '@wg-dynamic/protocol';
import { seededRandom } from './random.js';

export function parseResponse(text: string): Response {
  const [event] = new ResponseParser().push(Buffer.from(text, 'latin1'));
  if (event === undefined || !event.ok) throw new Error(`test response does not parse: ${text}`);
  return event.message;
}

/**
 * Drives a ClientMachine with a fake clock: timers it arms fire when the
 * clock is advanced past them, in order; every action is kept.
 */
export class MachineHarness {
  readonly machine: ClientMachine;
  now: Instant;
  readonly actions: ClientAction[] = [];
  readonly #timers = new Map<TimerName, { token: number; at: number }>();
  #lastSend: { exchange: number; request: RequestFields; sent: Instant } | undefined;

  constructor(
    options: {
      families?: Families;
      acceptDefaultRoute?: boolean;
      prefixes?: WantedPrefixes;
      seed?: number;
      wall?: number;
    } = {},
  ) {
    this.machine = new ClientMachine({
      families: options.families ?? { 4: true, 6: true },
      acceptDefaultRoute: options.acceptDefaultRoute ?? false,
      ...(options.prefixes === undefined ? {} : { prefixes: options.prefixes }),
      random: seededRandom(options.seed ?? 7),
    });
    this.now = { monotonic: 1_000, wall: options.wall ?? 1_700_000_000_000 };
  }

  /** Wall-clock seconds now, as a server with the same clock writes `leasestart`. */
  get seconds(): number {
    return Math.floor(this.now.wall / 1000);
  }

  handle(event: ClientEvent): ClientAction[] {
    const actions = this.machine.handle(event, this.now);
    for (const action of actions) {
      this.actions.push(action);
      if (action.type === 'arm') {
        this.#timers.set(action.timer, {
          token: action.token,
          at: this.now.monotonic + action.delayMs,
        });
      } else if (action.type === 'cancel') {
        this.#timers.delete(action.timer);
      } else if (action.type === 'send') {
        this.#lastSend = { exchange: action.exchange, request: action.request, sent: this.now };
      }
    }
    return actions;
  }

  start(options: { linkUp?: boolean; memory?: Memory } = {}): ClientAction[] {
    return this.handle({
      type: 'start',
      linkUp: options.linkUp ?? true,
      memory: options.memory ?? EMPTY_MEMORY,
    });
  }

  /** The request in flight. */
  get request(): RequestFields {
    if (!this.#lastSend) throw new Error('nothing was sent');
    return this.#lastSend.request;
  }

  get exchange(): number {
    if (!this.#lastSend) throw new Error('nothing was sent');
    return this.#lastSend.exchange;
  }

  /** The answer to the last request arrives after `latencyMs`. */
  answer(text: string, latencyMs = 10): ClientAction[] {
    const send = this.#lastSend;
    if (!send) throw new Error('nothing was sent');
    this.#tick(latencyMs);
    return this.handle({
      type: 'answered',
      exchange: send.exchange,
      response: parseResponse(text),
      sent: send.sent,
    });
  }

  fail(reason = 'connection refused', latencyMs = 10): ClientAction[] {
    this.#tick(latencyMs);
    return this.handle({ type: 'exchange-failed', exchange: this.exchange, reason });
  }

  /** When the timer is due, relative to now; undefined when it is not armed. */
  dueIn(timer: TimerName): number | undefined {
    const armed = this.#timers.get(timer);
    return armed === undefined ? undefined : armed.at - this.now.monotonic;
  }

  /** Moves both clocks forward, firing due timers in order; returns the actions they caused. */
  advance(ms: number): ClientAction[] {
    const end = this.now.monotonic + ms;
    const out: ClientAction[] = [];
    for (;;) {
      const next = [...this.#timers.entries()]
        .filter(([, t]) => t.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (next === undefined) break;
      const [timer, { token, at }] = next;
      this.#tick(at - this.now.monotonic);
      this.#timers.delete(timer);
      out.push(...this.handle({ type: 'timer', timer, token }));
    }
    this.#tick(end - this.now.monotonic);
    return out;
  }

  /** Runs until the next `send`, firing timers; returns the time it took. */
  untilSend(limitMs = 3_600_000): number {
    const start = this.now.monotonic;
    const end = start + limitMs;
    for (;;) {
      const next = [...this.#timers.entries()].sort((a, b) => a[1].at - b[1].at)[0];
      if (next === undefined || next[1].at > end) throw new Error('no request within the limit');
      const actions = this.advance(next[1].at - this.now.monotonic);
      if (actions.some((a) => a.type === 'send')) return this.now.monotonic - start;
    }
  }

  #tick(ms: number): void {
    this.now = { monotonic: this.now.monotonic + ms, wall: this.now.wall + ms };
  }

  /** Shifts the wall clock only (an NTP step, a wrong clock). */
  stepWallClock(ms: number): void {
    this.now = { ...this.now, wall: this.now.wall + ms };
  }
}

export function ofType<T extends ClientAction['type']>(
  actions: readonly ClientAction[],
  type: T,
): Extract<ClientAction, { type: T }>[] {
  return actions.filter((a): a is Extract<ClientAction, { type: T }> => a.type === type);
}

/** The request's `ip=` per family as text: 'new', an address, or 'release'. */
export function asked(request: RequestFields): { 4: string; 6: string } {
  const text = (family: 4 | 6) => {
    const entry = request.ip[family];
    return entry.kind === 'specific' ? entry.address.toString() : entry.kind;
  };
  return { 4: text(4), 6: text(6) };
}
