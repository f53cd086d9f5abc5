'use strict';
// Reads rtnetlink notifications in a process of its own and passes them on,
// framed, on standard output. Why a process: when the kernel drops
// notifications for a full receive buffer (ENOBUFS), the socket reports
// POLLERR, and the netlink package's native binding then throws from a libuv
// callback, which aborts the whole process. Here, that abort ends only this
// reader; the parent sees it and reports ENOBUFS to its caller.
//
// Arguments: <path of the netlink package> <groups, comma-separated numbers>
// <receive buffer size in bytes, 0 for the system default>.
// Frames: kind (1 byte) | payload length (u32, big-endian) | payload, with
//   'R' ready (subscribed; empty),
//   'D' datagram (u32 big-endian sender port, then the datagram),
//   'E' error (u32 big-endian errno, then a UTF-8 message); the reader exits after it.
// It exits when its standard input closes (the parent is gone).

const { RawNetlinkSocket } = require(process.argv[2]);

const NETLINK_ROUTE = 0;
// The reader also exits with EX_TEMPFAIL when this much waits unwritten.
const MAX_UNWRITTEN = 64 * 1024 * 1024;
const EX_TEMPFAIL = 75;

function frame(kind, payload) {
  const header = Buffer.alloc(5);
  header.write(kind, 0, 'latin1');
  header.writeUInt32BE(payload.length, 1);
  process.stdout.write(Buffer.concat([header, payload]));
}

function withNumber(number, rest) {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(number >>> 0, 0);
  return Buffer.concat([head, rest]);
}

function fail(error) {
  const errno = typeof error.errno === 'number' ? error.errno : 0;
  frame('E', withNumber(errno, Buffer.from(String(error.message), 'utf8')));
  process.stdout.end(() => process.exit(0));
}

function main() {
  let socket;
  try {
    const groups = process.argv[3].split(',').map(Number);
    const receiveBufferSize = Number(process.argv[4]);
    socket = new RawNetlinkSocket(NETLINK_ROUTE);
    if (receiveBufferSize > 0) socket.setRecvBufferSize(receiveBufferSize);
    for (const group of groups) socket.addMembership(group);
  } catch (error) {
    fail(error);
    return;
  }

  socket.on('message', (datagram, info) => {
    if (process.stdout.writableLength > MAX_UNWRITTEN) process.exit(EX_TEMPFAIL);
    frame('D', withNumber(info.port, datagram));
  });
  socket.on('truncatedMessage', () => fail({ errno: 90, message: 'a notification was truncated' }));
  socket.on('error', fail);

  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();

  frame('R', Buffer.alloc(0));
}

main();
