export {
  DEFAULT_LEASE_TIME,
  MAX_LINE_SIZE,
  MAX_NUMBER,
  WG_DYNAMIC_ADDRESS,
  WG_DYNAMIC_PORT,
  WG_DYNAMIC_PROTOCOL_VERSION,
} from './constants.js';
export { Errno, errorMessages, ProtocolError } from './errors.js';
export { commonExtensions, Extension, SUPPORTED_EXTENSIONS } from './extensions.js';
export { type MessageBuilder, MessageParser, type ParseEvent } from './message-parser.js';
export {
  type AddressRequest,
  NEW_ADDRESS,
  type PerFamily,
  type PrefixRequest,
  prefixRequest,
  RELEASE,
  RELEASE_PREFIX,
  type Request,
  type RequestFields,
  RequestParser,
  serializeRequest,
  specificAddress,
} from './request.js';
export {
  MAX_ROUTES,
  type Response,
  type ResponseFields,
  ResponseParser,
  serializeResponse,
} from './response.js';
export { MAX_EXTENSION_NAMES } from './values.js';
