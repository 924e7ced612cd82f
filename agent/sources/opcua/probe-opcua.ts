import './node-opcua-logs.js';
import { join } from 'node:path';
import { AttributeIds, DataType, type NodeId } from 'node-opcua';
import { describeError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logger.js';
import type { OpcuaSourceConfig, OpcuaTagConfig } from '../../config/schema.js';
import type { TagProbeResult } from '../probe.js';
import { connectClient, disposeClient } from './connection.js';
import { isNumericDataType } from './browse.js';
import { parseNodeId, resolveNodeId } from './node-id.js';
import { certificateFailure, findRejectedCertificate, trustCommand } from './pki.js';

export interface OpcuaProbeOptions {
  dataDir: string;
  agentId: string;
  log: Logger;
  timeoutMs: number;
}

function formatValue(value: unknown): string {
  if (typeof value === 'number') return String(Math.round(value * 1000) / 1000);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return String(value);
}

/**
 * `vigil check --connect` for one OPC UA source: connects once with the
 * configured security and user, resolves every tag's node id against the live
 * namespace array, and reads its DataType and Value. Never throws: a
 * connection failure becomes a `fail` line for each tag.
 */
export async function probeOpcuaSource(source: OpcuaSourceConfig, tags: OpcuaTagConfig[], opts: OpcuaProbeOptions): Promise<TagProbeResult[]> {
  const pkiDir = source.pkiDir ?? join(opts.dataDir, 'pki');
  const result = (tag: OpcuaTagConfig, status: TagProbeResult['status'], detail: string): TagProbeResult => ({ tag: tag.name, source: source.name, status, detail });
  let conn;
  try {
    conn = await connectClient({ ...source, connectTimeoutMs: opts.timeoutMs }, pkiDir, opts.agentId);
  } catch (err) {
    let detail = describeError(err);
    if (certificateFailure(err)) {
      const file = findRejectedCertificate(pkiDir);
      detail = file ? `server certificate not trusted: ${trustCommand(pkiDir, file)}` : `server certificate not trusted: move it from ${join(pkiDir, 'rejected')} to ${join(pkiDir, 'trusted', 'certs')}`;
    }
    opts.log.warn({ source: source.name, endpoint: source.endpoint }, detail);
    return tags.map((t) => result(t, 'fail', detail));
  }
  try {
    const namespaceArray = await conn.session.readNamespaceArray();
    const out: Array<TagProbeResult | undefined> = new Array(tags.length);
    const toRead: Array<{ index: number; nodeId: NodeId }> = [];
    tags.forEach((tag, index) => {
      try {
        toRead.push({ index, nodeId: resolveNodeId(parseNodeId(tag.nodeId), namespaceArray) });
      } catch (err) {
        out[index] = result(tag, 'fail', describeError(err));
      }
    });
    const reads = await conn.session.read(
      toRead.flatMap(({ nodeId }) => [
        { nodeId, attributeId: AttributeIds.DataType },
        { nodeId, attributeId: AttributeIds.Value },
      ]),
    );
    toRead.forEach(({ index }, k) => {
      const tag = tags[index]!;
      const typeDv = reads[2 * k]!;
      const valueDv = reads[2 * k + 1]!;
      if (!typeDv.statusCode.isGood()) {
        out[index] = result(tag, 'fail', `${typeDv.statusCode.name}: ${typeDv.statusCode.description}`);
        return;
      }
      const typeId = typeDv.value.value as NodeId;
      const typeName = typeId.namespace === 0 && typeof typeId.value === 'number' ? (DataType[typeId.value] ?? typeId.toString()) : typeId.toString();
      if (!isNumericDataType(typeName)) {
        out[index] = result(tag, 'fail', `${typeName} is not numeric; only numeric and Boolean nodes can be tags`);
        return;
      }
      const status = valueDv.statusCode;
      if (status.isGood()) out[index] = result(tag, 'ok', `${typeName}, value ${formatValue(valueDv.value.value)}`);
      else out[index] = result(tag, 'warn', `${typeName}, value status ${status.name}`);
    });
    return out.map((r, i) => r ?? result(tags[i]!, 'fail', 'not probed'));
  } catch (err) {
    const detail = describeError(err);
    return tags.map((t) => result(t, 'fail', detail));
  } finally {
    await disposeClient(conn, true);
  }
}
