import { stringify } from 'yaml';
import { DEMO_MQTT_TAGS } from './mqtt-plant.js';

/** The demo agent's main file: both sources, tags in a CSV and a YAML tag file. */
export function demoAgentYaml(p: {
  opcuaEndpoint: string;
  mqttUrl: string;
  httpPort: number;
  /** OPC UA publishing interval; the demo's model learns at this sample period. */
  publishingIntervalMs: number;
  hub: { url: string; tokenFile: string; publicKeyFile: string };
}): string {
  return [
    '# Written by `vigil demo`. Edit config/agent.example.yaml for a real plant.',
    'agent:',
    '  id: demo-gateway',
    '  dataDir: ./state',
    'http:',
    '  host: 127.0.0.1',
    `  port: ${p.httpPort}`,
    'sources:',
    '  - name: plc1',
    '    type: opcua',
    `    endpoint: ${p.opcuaEndpoint}`,
    '    securityMode: None',
    `    publishingIntervalMs: ${p.publishingIntervalMs}`,
    '  - name: plant',
    '    type: mqtt',
    `    url: ${p.mqttUrl}`,
    'tagFiles:',
    '  - tags-opcua.csv',
    '  - tags-mqtt.yaml',
    'models:',
    '  dir: ./models',
    '# The hub started by the demo: it trains a model from this agent\'s history and deploys it here.',
    'hub:',
    `  url: ${p.hub.url}`,
    `  tokenFile: ${p.hub.tokenFile}`,
    `  publicKeyFile: ${p.hub.publicKeyFile}`,
    '  heartbeatMs: 2000',
    '',
  ].join('\n');
}

/** OPC UA tags as a spreadsheet export: one row per pump signal, addressed by namespace URI. */
export function demoOpcuaTagsCsv(pumps: number, signals: readonly string[], namespaceUri: string, samplingIntervalMs: number): string {
  const rows = ['name,source,nodeId,samplingIntervalMs,unit,description'];
  const units: Record<string, string> = { Temperature: 'degC', Pressure: 'bar', FlowRate: 'm3/h', Vibration: 'mm/s', MotorCurrent: 'A', Running: '' };
  for (let p = 1; p <= pumps; p++) {
    for (const signal of signals) {
      rows.push(`pump${p}.${signal.toLowerCase()},plc1,nsu=${namespaceUri};s=Pump${p}.${signal},1000,${units[signal] ?? ''},Pump ${p} ${signal}`);
    }
  }
  return rows.join('\n') + '\n';
}

/** MQTT tags: one template line maps many topics to many tags. */
export function demoMqttTagsYaml(): string {
  return '# MQTT tags of the demo plant: JSON, JSON arrays, plain numbers and Sparkplug B.\n' + stringify({ tags: DEMO_MQTT_TAGS });
}
