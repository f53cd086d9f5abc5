import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClientState, EMPTY_STATE, StateStore, stateFilePath } from '@wg-dynamic/client';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const state: ClientState = {
  memory: {
    lease: undefined,
    addresses: { 4: IpAddress.parse('10.0.0.2') as IpAddress },
    prefixes: {},
  },
  added: { addresses: [IpPrefix.from('10.0.0.2/32')], routes: [] },
  addedLinkLocalRoute: false,
  addedDownstream: [],
  announcedPrefixes: {},
};

describe('StateStore', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'wg-dynamic-client-state-'));
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('keeps the file at <state-dir>/<interface>/client.json', () => {
    expect(stateFilePath('/var/lib/wg-dynamic', 'wg0')).toBe('/var/lib/wg-dynamic/wg0/client.json');
  });

  it('a missing file is an empty state, without a problem', async () => {
    const store = new StateStore(stateFilePath(directory, 'wg0'), 'wg0');
    expect(await store.load()).toEqual({ state: EMPTY_STATE });
  });

  it('writes, creating its directory, and reads back; no temporary file is left', async () => {
    const path = stateFilePath(directory, 'wg0');
    await new StateStore(path, 'wg0').save(state);
    expect(await readdir(join(directory, 'wg0'))).toEqual(['client.json']);
    const loaded = await new StateStore(path, 'wg0').load();
    expect(loaded).toEqual({ state });
  });

  it('makes its directory again when it was removed under it', async () => {
    const path = stateFilePath(directory, 'wg0');
    const store = new StateStore(path, 'wg0');
    await store.save(EMPTY_STATE);
    await rm(join(directory, 'wg0'), { recursive: true });
    await store.save(state);
    expect(JSON.parse(await readFile(path, 'utf8')).ask).toEqual({ ipv4: '10.0.0.2' });
  });

  it('runs writes one after the other: the last one wins', async () => {
    const path = stateFilePath(directory, 'wg0');
    const store = new StateStore(path, 'wg0');
    await Promise.all([store.save(EMPTY_STATE), store.save(state), store.save(EMPTY_STATE)]);
    expect((await new StateStore(path, 'wg0').load()).state).toEqual(EMPTY_STATE);
  });

  it('says why an unreadable file is not used, and starts empty', async () => {
    const path = stateFilePath(directory, 'wg0');
    await new StateStore(path, 'wg0').save(state);
    await writeFile(path, '{"version": 1, "interface": "wg0", "ask": ');
    const loaded = await new StateStore(path, 'wg0').load();
    expect(loaded.state).toEqual(EMPTY_STATE);
    expect(loaded.problem).toMatch(/not JSON/);
    expect((await new StateStore(path, 'wg1').load()).problem).toMatch(/not JSON/);
  });
});
