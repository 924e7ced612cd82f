import { connectAsync } from 'mqtt';
import { BROKER_HOST, BROKER_PORT, samplesPerMessage, subscriptionFilter, type MqttProfile } from './mqtt-traffic.js';
import { WindowMeter, runRole, sendEvent, serveCommands } from './child-meter.js';

/**
 * The ceiling: a bare mqtt.js v5 client on the same filter and QoS as the
 * agent, whose handler only counts. Samples = messages × samples per message,
 * i.e. what a client doing no work at all could hand over.
 *
 * argv: <profile> <run>
 */
runRole(async () => {
  const [profile, run] = process.argv.slice(2) as [MqttProfile, string];
  const perMessage = samplesPerMessage(profile);
  const client = await connectAsync(`mqtt://${BROKER_HOST}:${BROKER_PORT}`, {
    protocolVersion: 5,
    clientId: `bench-bare-${run}-${process.pid}`,
    clean: true,
    reconnectPeriod: 0,
  });
  let messages = 0;
  client.on('message', () => {
    messages++;
  });
  await client.subscribeAsync(subscriptionFilter(profile, run), { qos: 0 });

  const meter = new WindowMeter(() => ({ messages, samples: messages * perMessage }));
  serveCommands(meter, async () => {
    await client.endAsync();
    return { messages };
  });
  sendEvent('ready');
});
