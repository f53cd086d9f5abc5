import { RtnetlinkError } from '@wg-dynamic/rtnetlink';
import { errnoName, kernelError, readerExitError, socketError } from '@wg-dynamic/rtnetlink/codec';
import { describe, expect, it } from 'vitest';

describe('errno translation', () => {
  it('names the errno values rtnetlink answers with', () => {
    expect(errnoName(17)).toBe('EEXIST');
    expect(errnoName(99)).toBe('EADDRNOTAVAIL');
    expect(errnoName(19)).toBe('ENODEV');
    expect(errnoName(3)).toBe('ESRCH');
    expect(errnoName(105)).toBe('ENOBUFS');
    expect(errnoName(1)).toBe('EPERM');
    expect(errnoName(100)).toBe('ENETDOWN');
    expect(errnoName(4095)).toBe('EUNKNOWN');
  });

  it('makes typed errors that say what failed, why, and the errno', () => {
    const exists = kernelError(17, 'add-address', 'address 10.0.0.2/32 on interface #7');
    expect(exists).toBeInstanceOf(RtnetlinkError);
    expect(exists).toBeInstanceOf(Error);
    expect(exists.name).toBe('RtnetlinkError');
    expect(exists.code).toBe('EEXIST');
    expect(exists.errno).toBe(17);
    expect(exists.operation).toBe('add-address');
    expect(exists.message).toBe(
      'cannot add address 10.0.0.2/32 on interface #7: the interface already has this address (EEXIST)',
    );

    expect(kernelError(99, 'delete-address', 'address fd00::2/128 on interface #7').message).toBe(
      'cannot delete address fd00::2/128 on interface #7: the interface has no such address (EADDRNOTAVAIL)',
    );
    expect(kernelError(3, 'delete-route', 'route 10.0.0.0/24 dev #7').message).toBe(
      'cannot delete route 10.0.0.0/24 dev #7: there is no such route (ESRCH)',
    );
    expect(kernelError(19, 'get-link', 'interface wg0').message).toBe(
      'cannot look up interface wg0: there is no such network interface (it may have been removed) (ENODEV)',
    );
    expect(kernelError(1, 'set-link', 'interface #3').message).toMatch(/CAP_NET_ADMIN/);
    expect(kernelError(100, 'add-route', 'route 10.0.0.0/24 dev #3').message).toMatch(
      /interface is down; bring it up first \(ENETDOWN\)$/,
    );
    expect(kernelError(105, 'events').message).toMatch(
      /read the state again.*subscribe anew \(ENOBUFS\)$/,
    );
  });

  it('keeps the number of an errno it has no name for', () => {
    const unknown = kernelError(4095, 'add-route', 'route 10.0.0.0/24 dev #3');
    expect(unknown.code).toBe('EUNKNOWN');
    expect(unknown.errno).toBe(4095);
    expect(unknown.message).toMatch(/\(errno 4095\)$/);
  });

  it('turns socket failures into the errno they carry, with the cause', () => {
    const native = Object.assign(new Error('recvmsg failed'), { errno: 105, code: 'ENOBUFS' });
    const fromErrno = socketError(native, 'events');
    expect(fromErrno.code).toBe('ENOBUFS');
    expect(fromErrno.cause).toBe(native);
    const plain = socketError(new Error('Netlink socket is closed'), 'list-links');
    expect(plain.code).toBe('EPROTO');
    expect(plain.errno).toBeUndefined();
    expect(plain.message).toMatch(/Netlink socket is closed/);
  });
});

describe('the notification reader exits', () => {
  it('reports the binding aborting on POLLERR as ENOBUFS', () => {
    const error = readerExitError(
      null,
      'SIGABRT',
      "terminate called after throwing an instance of 'Napi::Error'\n  what():  Error in native callback\n",
      'events',
    );
    expect(error.code).toBe('ENOBUFS');
    expect(error.operation).toBe('events');
    expect((error.cause as Error).message).toMatch(/Napi::Error/);
  });

  it('reports its own overflow as ENOBUFS and anything else as EUNKNOWN', () => {
    expect(readerExitError(75, null, '', 'events').code).toBe('ENOBUFS');
    const killed = readerExitError(null, 'SIGKILL', '', 'events');
    expect(killed.code).toBe('EUNKNOWN');
    expect(killed.message).toMatch(/exited on signal SIGKILL; subscribe anew/);
    const crashed = readerExitError(1, null, 'Error: Cannot find module', 'open');
    expect(crashed.operation).toBe('open');
    expect(crashed.message).toMatch(/with status 1 \(Error: Cannot find module\)/);
    // An abort for another reason is not an overrun.
    expect(readerExitError(null, 'SIGABRT', 'out of memory', 'events').code).toBe('EUNKNOWN');
  });
});
