import {
  AttributeIds,
  BrowseDirection,
  DataType,
  NodeClass,
  NodeClassMask,
  ReferenceTypeIds,
  coerceNodeId,
  resolveNodeId as resolveStandardNodeId,
  type ClientSession,
  type NodeId,
  type ReferenceDescription,
} from 'node-opcua';
import { formatNsuNodeId, parseNodeId, resolveNodeId } from './node-id.js';

export interface BrowsedVariable {
  /** Stable form: nsu=<namespace URI>;s=… */
  nodeId: string;
  dataType: string;
  displayName: string;
  /** Browse names from below the root down to the variable, e.g. ['PumpStation', 'Pump1', 'Temperature']. */
  path: string[];
}

export interface BrowseOptions {
  /** Node id of the start node: nsu=…, ns=…, i=85, or a standard name such as ObjectsFolder. Default i=85 (Objects). */
  root?: string;
  /** Levels below the root to descend. */
  depth: number;
  /** Called after each batch with the number of nodes visited so far. */
  onProgress?: (visited: number) => void;
}

const BATCH = 100;
const SERVER_OBJECT = 'ns=0;i=2253';
const NUMERIC_TYPES = new Set(['Boolean', 'SByte', 'Byte', 'Int16', 'UInt16', 'Int32', 'UInt32', 'Int64', 'UInt64', 'Float', 'Double', 'Duration']);

/** True for data types whose values become samples (numbers and Booleans). */
export function isNumericDataType(name: string): boolean {
  return NUMERIC_TYPES.has(name);
}

export function resolveRoot(root: string, namespaceArray: readonly string[]): NodeId {
  if (/^(nsu|ns)=/.test(root)) return resolveNodeId(parseNodeId(root), namespaceArray);
  if (/^[sigb]=/.test(root)) return coerceNodeId(`ns=0;${root}`);
  return resolveStandardNodeId(root);
}

/**
 * Walks the address space breadth-first along hierarchical references
 * (Organizes, HasComponent… but not HasProperty: properties such as EURange
 * are metadata, not tags). Requests are batched so a server with tens of
 * thousands of nodes is browsed in a few hundred round trips. The Server
 * object's diagnostics are skipped unless browsing starts inside it.
 */
export async function browseAddressSpace(session: ClientSession, opts: BrowseOptions): Promise<BrowsedVariable[]> {
  const namespaceArray = await session.readNamespaceArray();
  const rootId = resolveRoot(opts.root ?? 'i=85', namespaceArray);
  const visited = new Set<string>([rootId.toString()]);
  const found: Array<{ nodeId: NodeId; displayName: string; path: string[] }> = [];
  let level: Array<{ nodeId: NodeId; path: string[] }> = [{ nodeId: rootId, path: [] }];

  for (let depth = 0; depth < opts.depth && level.length > 0; depth++) {
    const next: typeof level = [];
    for (let i = 0; i < level.length; i += BATCH) {
      const batch = level.slice(i, i + BATCH);
      const refsPerNode = await browseChildren(session, batch.map((b) => b.nodeId));
      refsPerNode.forEach((refs, j) => {
        for (const ref of refs) {
          if (ref.referenceTypeId.toString() === coerceNodeId(ReferenceTypeIds.HasProperty).toString()) continue;
          const id = ref.nodeId.toString();
          if (visited.has(id) || (id === SERVER_OBJECT && rootId.toString() !== SERVER_OBJECT)) continue;
          visited.add(id);
          const childId = coerceNodeId(id);
          const path = [...batch[j]!.path, ref.browseName.name ?? id];
          if (ref.nodeClass === NodeClass.Variable) found.push({ nodeId: childId, displayName: ref.displayName.text ?? path.at(-1)!, path });
          next.push({ nodeId: childId, path });
        }
      });
      opts.onProgress?.(visited.size);
    }
    level = next;
  }

  const dataTypes = await readDataTypes(session, found.map((f) => f.nodeId));
  return found.map((f, i) => ({ nodeId: formatNsuNodeId(f.nodeId, namespaceArray), dataType: dataTypes[i]!, displayName: f.displayName, path: f.path }));
}

async function browseChildren(session: ClientSession, nodeIds: NodeId[]): Promise<ReferenceDescription[][]> {
  const results = await session.browse(
    nodeIds.map((nodeId) => ({
      nodeId,
      browseDirection: BrowseDirection.Forward,
      referenceTypeId: ReferenceTypeIds.HierarchicalReferences,
      includeSubtypes: true,
      nodeClassMask: NodeClassMask.Object | NodeClassMask.Variable,
      resultMask: 0x3f,
    })),
  );
  const out: ReferenceDescription[][] = [];
  for (const result of results) {
    const refs = [...(result.references ?? [])];
    let cp = result.continuationPoint;
    while (cp && cp.length > 0) {
      const more = await session.browseNext(cp, false);
      refs.push(...(more.references ?? []));
      cp = more.continuationPoint;
    }
    out.push(refs);
  }
  return out;
}

/** DataType attribute of each variable, as a name (Double, Boolean, or the custom type's browse name). */
async function readDataTypes(session: ClientSession, nodeIds: NodeId[]): Promise<string[]> {
  const typeIds: Array<NodeId | undefined> = [];
  for (let i = 0; i < nodeIds.length; i += 1000) {
    const values = await session.read(nodeIds.slice(i, i + 1000).map((nodeId) => ({ nodeId, attributeId: AttributeIds.DataType })));
    for (const dv of values) typeIds.push(dv.statusCode.isGood() ? (dv.value.value as NodeId) : undefined);
  }
  const names = new Map<string, string>();
  const custom = [...new Set(typeIds.filter((t): t is NodeId => !!t && !(t.namespace === 0 && typeof t.value === 'number' && DataType[t.value] !== undefined)).map((t) => t.toString()))];
  if (custom.length > 0) {
    const values = await session.read(custom.map((id) => ({ nodeId: id, attributeId: AttributeIds.BrowseName })));
    values.forEach((dv, i) => names.set(custom[i]!, (dv.value.value as { name?: string } | null)?.name ?? custom[i]!));
  }
  return typeIds.map((t) => {
    if (!t) return 'unknown';
    if (t.namespace === 0 && typeof t.value === 'number' && DataType[t.value] !== undefined) return DataType[t.value]!;
    return names.get(t.toString()) ?? t.toString();
  });
}
