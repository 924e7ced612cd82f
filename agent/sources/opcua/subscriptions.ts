import {
  AttributeIds,
  DataChangeFilter,
  DataChangeTrigger,
  DeadbandType,
  TimestampsToReturn,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type MonitoringParametersOptions,
  type NodeId,
} from 'node-opcua';
import type { OpcuaTagConfig } from '../../config/schema.js';

/** A tag whose node id resolved in the current session; `index` is its position in the source's tag list. */
export interface ResolvedTag {
  index: number;
  tag: OpcuaTagConfig;
  nodeId: NodeId;
}

export interface SubscriptionPlan {
  publishingIntervalMs: number;
  items: ResolvedTag[];
}

/**
 * Groups tags by publishing interval, then cuts each group into subscriptions
 * of at most `maxItems` monitored items. Few subscriptions keep the number of
 * outstanding Publish requests (and server load) low.
 */
export function planSubscriptions(items: ResolvedTag[], defaultPublishingMs: number, maxItems: number): SubscriptionPlan[] {
  const byInterval = new Map<number, ResolvedTag[]>();
  for (const item of items) {
    const interval = item.tag.publishingIntervalMs ?? defaultPublishingMs;
    let list = byInterval.get(interval);
    if (!list) byInterval.set(interval, (list = []));
    list.push(item);
  }
  const plans: SubscriptionPlan[] = [];
  for (const [publishingIntervalMs, list] of [...byInterval].sort((a, b) => a[0] - b[0])) {
    for (let i = 0; i < list.length; i += maxItems) plans.push({ publishingIntervalMs, items: list.slice(i, i + maxItems) });
  }
  return plans;
}

/** Per-tag monitoring parameters: sampling interval, queue, and an optional deadband filter. */
export function monitoringParameters(tag: OpcuaTagConfig, publishingIntervalMs: number): MonitoringParametersOptions {
  const params: MonitoringParametersOptions = {
    samplingInterval: tag.samplingIntervalMs ?? publishingIntervalMs,
    queueSize: tag.queueSize,
    discardOldest: true,
  };
  if (tag.deadband) {
    params.filter = new DataChangeFilter({
      trigger: DataChangeTrigger.StatusValue,
      deadbandType: tag.deadband.type === 'absolute' ? DeadbandType.Absolute : DeadbandType.Percent,
      deadbandValue: tag.deadband.value,
    });
  }
  return params;
}

function parametersKey(tag: OpcuaTagConfig): string {
  return `${tag.samplingIntervalMs ?? ''}|${tag.queueSize}|${tag.deadband?.type ?? ''}|${tag.deadband?.value ?? ''}`;
}

export interface SubscriptionHandlers {
  /** Hot path: one call per data change. */
  onValue(tagIndex: number, dataValue: DataValue): void;
  /** Data or keep-alive arrived on subscription `key`. */
  onAlive(key: number): void;
  /** The server refused to monitor this tag. */
  onItemFailed(item: ResolvedTag, statusText: string): void;
  /** The subscription ended on the server side (timeout, shutdown…). */
  onSubscriptionLost(key: number, reason: string): void;
}

export interface OpenedSubscription {
  key: number;
  subscription: ClientSubscription;
  /** Revised publishing interval × revised keep-alive count: the longest a healthy subscription stays quiet. */
  quietPeriodMs: number;
  monitored: number;
}

/**
 * Creates one subscription for a plan. Items that share monitoring parameters
 * go into one CreateMonitoredItems call (a ClientMonitoredItemGroup); a plan
 * usually needs one or two such calls.
 */
export async function openSubscription(
  session: ClientSession,
  key: number,
  plan: SubscriptionPlan,
  opts: { keepAliveCount: number },
  handlers: SubscriptionHandlers,
): Promise<OpenedSubscription> {
  const subscription = await session.createSubscription2({
    requestedPublishingInterval: plan.publishingIntervalMs,
    requestedMaxKeepAliveCount: opts.keepAliveCount,
    // The server deletes a subscription after lifetimeCount publishing intervals without a Publish request.
    requestedLifetimeCount: opts.keepAliveCount * 6,
    maxNotificationsPerPublish: 0,
    publishingEnabled: true,
    priority: 10,
  });
  subscription.on('keepalive', () => handlers.onAlive(key));
  subscription.on('received_notifications', () => handlers.onAlive(key));
  subscription.on('terminated', () => handlers.onSubscriptionLost(key, 'subscription terminated'));
  subscription.on('status_changed', (status) => handlers.onSubscriptionLost(key, `subscription status ${status.name}`));

  const byParams = new Map<string, ResolvedTag[]>();
  for (const item of plan.items) {
    const k = parametersKey(item.tag);
    let list = byParams.get(k);
    if (!list) byParams.set(k, (list = []));
    list.push(item);
  }

  let monitored = 0;
  for (const items of byParams.values()) {
    const group = await subscription.monitorItems(
      items.map((i) => ({ nodeId: i.nodeId, attributeId: AttributeIds.Value })),
      monitoringParameters(items[0]!.tag, plan.publishingIntervalMs),
      TimestampsToReturn.Both,
    );
    const tagIndexes = items.map((i) => i.index);
    group.on('changed', (_item, dataValue, index) => handlers.onValue(tagIndexes[index]!, dataValue));
    group.monitoredItems.forEach((mi, i) => {
      const status = mi.statusCode;
      if (status && status.isGood()) monitored += 1;
      else handlers.onItemFailed(items[i]!, status ? `${status.name}: ${status.description}` : 'not created');
    });
  }
  return { key, subscription, quietPeriodMs: subscription.publishingInterval * subscription.maxKeepAliveCount, monitored };
}
