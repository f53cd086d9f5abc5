// The pure rtnetlink codec (no I/O): message bodies to typed links, addresses,
// routes and events, and errno translation. The socket-level API is in the
// main entry point; this one serves tools and tests that hold raw messages.
export { decodeAddress, encodeDeleteAddress, encodeNewAddress } from './address.js';
export { MalformedMessageError, prefixFromAttribute } from './attributes.js';
export * as constants from './constants.js';
export { errnoName, kernelError, socketError } from './errors.js';
export { readerExitError } from './event-reader.js';
export { classifyMessage } from './events.js';
export { type Frame, FrameReader, MAX_FRAME_PAYLOAD } from './frame-reader.js';
export { decodeLink, encodeSetLink } from './link.js';
export { decodeRoute, encodeRoute } from './route.js';
