export { addressBits, addressLength, IpAddress, type IpFamily } from './address.js';
export { IpPrefix } from './prefix.js';
