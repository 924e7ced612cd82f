import { readFileSync } from 'node:fs';
import { AttributeIds, MessageSecurityMode, OPCUAClient, SecurityPolicy, TimestampsToReturn } from 'node-opcua';
import { WindowMeter, runRole, sendEvent, serveCommands, sleep } from './child-meter.js';
import { MissedChanges, VERIFY_MS } from './missed-changes.js';

/**
 * The ceiling: a bare node-opcua client — one session, one subscription
 * (publishing 1000 ms), every item monitored at sampling 1000 ms with queue
 * size 1, and a handler that only counts notifications.
 *
 * argv: <endpoint> <namespaceUri> <nodes file (JSON array of string ids)>
 */
runRole(async () => {
  const [endpoint, namespaceUri, nodesFile] = process.argv.slice(2) as [string, string, string];
  const nodes = JSON.parse(readFileSync(nodesFile, 'utf8')) as string[];
  const client = OPCUAClient.create({
    applicationName: 'vigil-bench-bare',
    endpointMustExist: false,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    connectionStrategy: { maxRetry: 0 },
  });
  await client.connect(endpoint);
  const session = await client.createSession();
  const ns = (await session.readNamespaceArray()).indexOf(namespaceUri);
  if (ns < 0) throw new Error(`namespace ${namespaceUri} not on the server`);
  const subscription = await session.createSubscription2({
    requestedPublishingInterval: 1000,
    requestedMaxKeepAliveCount: 10,
    requestedLifetimeCount: 60,
    maxNotificationsPerPublish: 0,
    publishingEnabled: true,
    priority: 10,
  });

  let notifications = 0;
  // Until every item has reported once, also note which did (setup detection); then only count.
  const seen = new Uint8Array(nodes.length);
  let distinct = 0;
  const group = await subscription.monitorItems(
    nodes.map((id) => ({ nodeId: `ns=${ns};s=${id}`, attributeId: AttributeIds.Value })),
    { samplingInterval: 1000, queueSize: 1, discardOldest: true },
    TimestampsToReturn.Both,
  );
  const missed = new MissedChanges(nodes.length);
  group.on('changed', (_item, value, index) => {
    notifications++;
    if (missed.active) missed.see(index, value.sourceTimestamp?.getTime() ?? 0);
    if (distinct < nodes.length && seen[index] === 0) {
      seen[index] = 1;
      distinct++;
    }
  });
  const bad = group.monitoredItems.filter((mi) => !mi.statusCode?.isGood()).length;
  if (bad > 0) throw new Error(`${bad} monitored items were refused by the server`);
  const deadline = Date.now() + 60_000;
  while (distinct < nodes.length) {
    if (Date.now() > deadline) throw new Error(`only ${distinct} of ${nodes.length} items delivered within 60 s`);
    await sleep(200);
  }

  const meter = new WindowMeter(() => ({ messages: notifications, samples: notifications }));
  serveCommands(
    meter,
    async () => {
      await subscription.terminate();
      await session.close();
      await client.disconnect();
      return { notifications, distinct };
    },
    { verify: () => missed.measure(VERIFY_MS) },
  );
  sendEvent('ready', { items: nodes.length });
});
