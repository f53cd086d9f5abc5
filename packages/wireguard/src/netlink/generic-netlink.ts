import { AttributeDecoder } from './attribute-decoder.js';
import { AttributeEncoder } from './attribute-encoder.js';
import type { DumpResult, NetlinkConnection } from './connection.js';
import { NetlinkRequestError } from './errors.js';
import { encodeGenericHeader, type NetlinkMessage, parseGenericPayload } from './message.js';

// The generic netlink controller, <linux/genetlink.h>.
/** GENL_ID_CTRL: the controller's fixed family id (NLMSG_MIN_TYPE). */
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_NEWFAMILY = 1;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
/** The controller's version as every caller sends it. */
export const GENL_CTRL_VERSION = 1;

/** One generic netlink message of an answer. */
export interface GenericMessage {
  readonly command: number;
  readonly version: number;
  /** nlmsg_flags of the message (NLM_F_MULTI, NLM_F_DUMP_INTR, …). */
  readonly flags: number;
  /** The attributes after struct genlmsghdr. */
  readonly attributes: Uint8Array;
}

/**
 * What the WireGuard kernel backend needs from generic netlink: family
 * resolution, requests and dumps of raw attribute payloads, and the size
 * limit of one message.
 */
export interface GenericNetlinkTransport {
  /** The largest message, netlink header included, that the kernel accepts on this socket. */
  maxMessageSize(): number;
  /** A family's id, resolved through the controller (nlctrl) once and then remembered. */
  family(name: string): Promise<number>;
  /** A request acknowledged by the kernel; resolves with the messages it answered before the ack. */
  request(
    family: number,
    command: number,
    version: number,
    attributes: Uint8Array,
    operation: string,
  ): Promise<GenericMessage[]>;
  /** A dump; each answer message goes to `onMessage` as it arrives. */
  dump(
    family: number,
    command: number,
    version: number,
    attributes: Uint8Array,
    operation: string,
    onMessage: (message: GenericMessage) => void,
  ): Promise<DumpResult>;
  close(): void;
}

/** Generic netlink over a NetlinkConnection. */
export class GenericNetlink implements GenericNetlinkTransport {
  readonly #connection: NetlinkConnection;
  readonly #families = new Map<string, number>();

  constructor(connection: NetlinkConnection) {
    this.#connection = connection;
  }

  maxMessageSize(): number {
    return this.#connection.maxMessageSize();
  }

  async family(name: string): Promise<number> {
    const known = this.#families.get(name);
    if (known !== undefined) return known;
    const attributes = new AttributeEncoder().string(CTRL_ATTR_FAMILY_NAME, name).encode();
    const replies = await this.request(
      GENL_ID_CTRL,
      CTRL_CMD_GETFAMILY,
      GENL_CTRL_VERSION,
      attributes,
      `resolve generic netlink family "${name}"`,
    );
    let id: number | undefined;
    for (const reply of replies) {
      for (const attribute of new AttributeDecoder(reply.attributes, 'CTRL_CMD_NEWFAMILY')) {
        if (attribute.type === CTRL_ATTR_FAMILY_ID) id = attribute.u16();
      }
    }
    if (id === undefined) {
      throw new NetlinkRequestError('NETLINK_MALFORMED_REPLY', `resolve family "${name}"`, {
        message: 'the controller answered without CTRL_ATTR_FAMILY_ID',
      });
    }
    this.#families.set(name, id);
    return id;
  }

  async request(
    family: number,
    command: number,
    version: number,
    attributes: Uint8Array,
    operation: string,
  ): Promise<GenericMessage[]> {
    try {
      const messages = await this.#connection.request(
        family,
        genericPayload(command, version, attributes),
        operation,
      );
      return messages.map(toGenericMessage);
    } catch (error) {
      this.#forgetOnMissingFamily(family, error);
      throw error;
    }
  }

  async dump(
    family: number,
    command: number,
    version: number,
    attributes: Uint8Array,
    operation: string,
    onMessage: (message: GenericMessage) => void,
  ): Promise<DumpResult> {
    try {
      return await this.#connection.dump(
        family,
        genericPayload(command, version, attributes),
        operation,
        (message) => onMessage(toGenericMessage(message)),
      );
    } catch (error) {
      this.#forgetOnMissingFamily(family, error);
      throw error;
    }
  }

  close(): void {
    this.#connection.close();
  }

  /** A family whose module was unloaded answers ENOENT; resolve it afresh next time. */
  #forgetOnMissingFamily(family: number, error: unknown): void {
    if (!(error instanceof NetlinkRequestError) || error.errno !== 2) return;
    for (const [name, id] of this.#families) if (id === family) this.#families.delete(name);
  }
}

function genericPayload(command: number, version: number, attributes: Uint8Array): Uint8Array {
  const payload = new Uint8Array(4 + attributes.length);
  payload.set(encodeGenericHeader({ command, version }));
  payload.set(attributes, 4);
  return payload;
}

function toGenericMessage(message: NetlinkMessage): GenericMessage {
  const { command, version, attributes } = parseGenericPayload(message.payload);
  return { command, version, flags: message.flags, attributes };
}
