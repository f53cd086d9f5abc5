import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const WRAPPER = fileURLToPath(new URL('../wg-quick/wg-quick', import.meta.url));

/**
 * The wrapper's decisions, with stand-ins for /usr/bin/wg-quick and the
 * client that record how they were called (the lab test runs the real ones).
 */
describe('the wg-quick wrapper', () => {
  let dir: string;
  let log: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wg-quick-wrapper-'));
    log = join(dir, 'calls.log');
    // The stand-in wg-quick logs its arguments and, for up and save, the file it was given.
    await writeFile(
      join(dir, 'real-wg-quick'),
      `#!/bin/bash\necho "wg-quick $*" >> ${log}\n` +
        `if [[ $1 == up ]]; then echo "--- $2" >> ${log}; cat "$2" >> ${log}; echo "---" >> ${log}; fi\n` +
        `if [[ $1 == save ]]; then printf '[Interface]\\nAddress = 10.9.9.9/32, fe80::abcd/128\\nListenPort = 4242\\nPrivateKey = k\\n' > "$2"; fi\n` +
        `exit \${REAL_EXIT:-0}\n`,
    );
    // The stand-in client "daemonizes" as a sleep whose pid goes into the pid file.
    await writeFile(
      join(dir, 'client'),
      `#!/bin/bash\necho "client $*" >> ${log}\n[[ -n $CLIENT_FAILS ]] && exit 1\n` +
        `sleep 60 >/dev/null 2>&1 & echo $! > "$3"\n`,
    );
    // The stand-in ip(8) logs its arguments; asked for the link-local addresses, it shows
    // the configured one and, with KERNEL_LINK_LOCAL, one the kernel made (as for a TUN device).
    await mkdir(join(dir, 'bin'));
    await writeFile(
      join(dir, 'bin/ip'),
      `#!/bin/bash\necho "ip $*" >> ${log}\n` +
        `if [[ "$*" == "-6 -o address show dev wg0 scope link" ]]; then\n` +
        `  [[ -z $KERNEL_LINK_LOCAL ]] || echo '7: wg0    inet6 fe80::2054:ece:7fe5:8dde/64 scope link stable-privacy \\       valid_lft forever preferred_lft forever'\n` +
        `  echo '7: wg0    inet6 fe80::abcd/128 scope link \\       valid_lft forever preferred_lft forever'\n` +
        `fi\n`,
    );
    await chmod(join(dir, 'bin/ip'), 0o755);
    await chmod(join(dir, 'real-wg-quick'), 0o755);
    await chmod(join(dir, 'client'), 0o755);
    await mkdir(join(dir, 'run'));
    env = {
      ...process.env,
      PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
      WG_DYNAMIC_REAL_WG_QUICK: join(dir, 'real-wg-quick'),
      WG_DYNAMIC_CLIENT: join(dir, 'client'),
      WG_DYNAMIC_RUN_DIRECTORY: join(dir, 'run'),
    };
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function wrapper(args: string[], extra: NodeJS.ProcessEnv = {}) {
    return new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(WRAPPER, args, { env: { ...env, ...extra } }, (error, _stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stderr });
      });
    });
  }

  const calls = async () => (await readFile(log, 'utf8').catch(() => '')).trim().split('\n');

  async function config(text: string, name = 'wg0.conf'): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  const AUTO = `[Interface]
PrivateKey = k
# the wg-dynamic link-local address, and leases for the rest
Address = fe80::abcd/128, auto
ListenPort = 4242

[Peer]
PublicKey = p
AllowedIPs = 0.0.0.0/0, ::/0
`;

  it('hands a configuration without auto to the real wg-quick untouched', async () => {
    const path = await config('[Interface]\nAddress = 10.0.0.1/24\n');
    expect((await wrapper(['up', path])).code).toBe(0);
    expect(await calls()).toEqual([
      `wg-quick up ${path}`,
      `--- ${path}`,
      '[Interface]',
      'Address = 10.0.0.1/24',
      '---',
    ]);
    await wrapper(['--help']);
    expect((await calls()).at(-1)).toBe('wg-quick --help');
  });

  it('brings an auto configuration up without auto, then starts the client', async () => {
    const path = await config(AUTO);
    const result = await wrapper(['up', path]);
    expect(result.code).toBe(0);
    const stripped = join(dir, 'run/quick/wg0.conf');
    const lines = await calls();
    expect(lines[0]).toBe(`wg-quick up ${stripped}`);
    const file = lines.slice(2, lines.indexOf('---', 2)).join('\n');
    expect(file).toContain('Address = fe80::abcd/128\n');
    expect(file).not.toMatch(/auto/);
    expect(file).toContain('# the wg-dynamic link-local address');
    expect(file).toContain('AllowedIPs = 0.0.0.0/0, ::/0');
    expect(lines.at(-1)).toBe(`client --daemon --pid-file ${join(dir, 'run/wg0.pid')} wg0`);
    expect(result.stderr).toContain('[#] ');
    await wrapper(['down', path]);
  });

  it('removes the link-local address the kernel gave a TUN device, and only that, before the client starts', async () => {
    const path = await config(AUTO);
    const result = await wrapper(['up', path], { KERNEL_LINK_LOCAL: '1' });
    expect(result.code).toBe(0);
    const lines = await calls();
    expect(lines.slice(lines.indexOf('---', 2) + 1)).toEqual([
      'ip link set dev wg0 addrgenmode none',
      'ip -6 -o address show dev wg0 scope link',
      'ip -6 address del fe80::2054:ece:7fe5:8dde/64 dev wg0',
      `client --daemon --pid-file ${join(dir, 'run/wg0.pid')} wg0`,
    ]);
    expect(result.stderr).toContain('[#] ip -6 address del fe80::2054:ece:7fe5:8dde/64 dev wg0');
    await wrapper(['down', path]);
  });

  it('keeps the other addresses of a mixed Address line, and drops a line left empty', async () => {
    const path = await config(
      '[Interface]\naddress=auto\nAddress = 10.1.0.1/32 ,auto, fd00::1/128\n[Peer]\nAddress = auto\n',
    );
    await wrapper(['up', path]);
    const lines = await calls();
    expect(lines.slice(2, lines.indexOf('---', 2))).toEqual([
      '[Interface]',
      'Address = 10.1.0.1/32, fd00::1/128',
      '[Peer]',
      'Address = auto',
    ]);
    await wrapper(['down', path]);
  });

  it('takes the interface down again when the client cannot start', async () => {
    const path = await config(AUTO);
    const result = await wrapper(['up', path], { CLIENT_FAILS: '1' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('wg-dynamic-client could not start for wg0');
    expect((await calls()).at(-1)).toBe(`wg-quick down ${join(dir, 'run/quick/wg0.conf')}`);
  });

  it('stops the client before taking the interface down', async () => {
    const path = await config(AUTO);
    await wrapper(['up', path]);
    const pid = Number(await readFile(join(dir, 'run/wg0.pid'), 'utf8'));
    expect(() => process.kill(pid, 0)).not.toThrow();
    const result = await wrapper(['down', path]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`[#] kill -TERM ${pid}`);
    expect(() => process.kill(pid, 0)).toThrow();
    expect((await calls()).at(-1)).toBe(`wg-quick down ${join(dir, 'run/quick/wg0.conf')}`);
  });

  it('saves everything but the leased addresses: the Address line stays as written', async () => {
    const path = await config(AUTO);
    await wrapper(['save', path]);
    const saved = await readFile(path, 'utf8');
    expect(saved).toBe(
      '[Interface]\nAddress = fe80::abcd/128, auto\nListenPort = 4242\nPrivateKey = k\n',
    );
  });

  it('refuses a configuration file whose name is not an interface name', async () => {
    const path = await config(AUTO, 'not an interface.conf');
    const result = await wrapper(['up', path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('must be a valid interface name');
  });
});
