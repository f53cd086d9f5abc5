import { AttributeDecoder } from './attribute-decoder.js';
import { AttributeEncoder, NLA_F_NET_BYTEORDER } from './attribute-encoder.js';
import { NetlinkDecodeError } from './errors.js';

/** A decoded attribute with no knowledge of its family: a leaf of bytes, or nested attributes. */
export type AttributeNode = AttributeLeaf | AttributeBranch;

export interface AttributeLeaf {
  readonly type: number;
  readonly netByteOrder: boolean;
  readonly payload: Uint8Array;
}

export interface AttributeBranch {
  readonly type: number;
  readonly netByteOrder: boolean;
  readonly children: readonly AttributeNode[];
}

/** The default nesting limit: WireGuard's deepest is 4 (device > peers > peer > allowed-ips > allowed-ip). */
export const DEFAULT_MAX_DEPTH = 16;

/**
 * Decodes attributes into a tree, descending into every attribute flagged
 * NLA_F_NESTED, at most `maxDepth` levels deep (a hostile buffer can nest
 * 16,000 levels in 64 KiB). For debugging, fixtures and fuzzing: the kernel
 * backend reads its attributes by type instead.
 */
export function decodeAttributeTree(
  bytes: Uint8Array,
  maxDepth = DEFAULT_MAX_DEPTH,
  where = 'attributes',
): AttributeNode[] {
  return decodeLevel(new AttributeDecoder(bytes, where), maxDepth, 1);
}

function decodeLevel(decoder: AttributeDecoder, maxDepth: number, depth: number): AttributeNode[] {
  if (depth > maxDepth) {
    throw new NetlinkDecodeError(decoder.where, `attributes nested deeper than ${maxDepth} levels`);
  }
  const nodes: AttributeNode[] = [];
  for (const attribute of decoder) {
    if (attribute.nestedFlag) {
      nodes.push({
        type: attribute.type,
        netByteOrder: attribute.netByteOrder,
        children: decodeLevel(attribute.nested(), maxDepth, depth + 1),
      });
    } else {
      nodes.push({
        type: attribute.type,
        netByteOrder: attribute.netByteOrder,
        payload: attribute.bytes(),
      });
    }
  }
  return nodes;
}

/** Encodes a tree back into attributes (nested ones flagged NLA_F_NESTED). */
export function encodeAttributeTree(nodes: readonly AttributeNode[]): AttributeEncoder {
  const encoder = new AttributeEncoder();
  for (const node of nodes) {
    const type = node.netByteOrder ? node.type | NLA_F_NET_BYTEORDER : node.type;
    if ('children' in node) encoder.nested(type, encodeAttributeTree(node.children));
    else encoder.bytes(type, node.payload);
  }
  return encoder;
}
