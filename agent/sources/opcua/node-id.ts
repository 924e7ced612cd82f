import { coerceNodeId, type NodeId } from 'node-opcua';
import { VigilError } from '../../../shared/errors.js';

/**
 * A configured node id, kept as written: either a namespace URI (`nsu=`) or a
 * namespace index (`ns=`), plus the identifier part (`s=…`, `i=…`, `g=…`, `b=…`).
 * URIs are resolved against the server's NamespaceArray at every session,
 * because a server restart may renumber its namespaces.
 */
export interface ConfiguredNodeId {
  text: string;
  namespaceUri?: string;
  namespaceIndex?: number;
  /** The part after the first `;`, e.g. `s=Pump1.Temperature`. */
  identifier: string;
}

const NODE_ID = /^(?:nsu=([^;]+)|ns=(\d+));([sigb]=.+)$/s;

export function parseNodeId(text: string): ConfiguredNodeId {
  const m = NODE_ID.exec(text.trim());
  if (!m) {
    throw new VigilError('VIGIL_OPCUA_NODE_INVALID', `"${text}" is not a node id; write nsu=<namespace URI>;s=<name> (or ns=<index>;i=<number>)`);
  }
  const identifier = m[3]!;
  if (m[1] !== undefined) return { text, namespaceUri: m[1], identifier };
  return { text, namespaceIndex: Number(m[2]), identifier };
}

/** Turns a configured id into a NodeId of this session; throws when the URI is unknown to the server. */
export function resolveNodeId(id: ConfiguredNodeId, namespaceArray: readonly string[]): NodeId {
  let index = id.namespaceIndex;
  if (id.namespaceUri !== undefined) {
    index = namespaceArray.indexOf(id.namespaceUri);
    if (index < 0) {
      throw new VigilError(
        'VIGIL_OPCUA_NAMESPACE_UNKNOWN',
        `the server has no namespace "${id.namespaceUri}" (it has: ${namespaceArray.slice(1).join(', ') || 'none'}); check the nsu= part of ${id.text} with vigil browse`,
      );
    }
  }
  try {
    return coerceNodeId(`ns=${index};${id.identifier}`);
  } catch (cause) {
    throw new VigilError('VIGIL_OPCUA_NODE_INVALID', `"${id.text}" is not a valid node id: ${(cause as Error).message}`, { cause });
  }
}

/** The stable `nsu=` form of a node id, for `vigil browse` output and tag file skeletons. */
export function formatNsuNodeId(nodeId: NodeId, namespaceArray: readonly string[]): string {
  const text = nodeId.toString(); // e.g. ns=2;s=Pump1.Temperature or i=2253
  const uri = namespaceArray[nodeId.namespace];
  const identifier = text.replace(/^ns=\d+;/, '');
  if (uri === undefined) return `ns=${nodeId.namespace};${identifier}`;
  return `nsu=${uri};${identifier}`;
}
