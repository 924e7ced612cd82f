import { startOpcuaPlant } from '../../../agent/demo/opcua-plant.js';
import { WindowMeter, runRole, sendEvent, serveCommands } from './child-meter.js';

/**
 * The OPC UA server of the benchmark, in its own process so the clients'
 * CPU and RSS are theirs alone: the demo plant with N bulk Double variables,
 * all changing every second.
 *
 * argv: <variables>
 */
runRole(async () => {
  const count = Number(process.argv[2]);
  const plant = await startOpcuaPlant({ port: 0, pumps: 1, extraVariables: count, updateIntervalMs: 1000 });
  const bulk = plant.variables.filter((v) => v.startsWith('Bulk.'));
  if (bulk.length !== count) throw new Error(`the plant serves ${bulk.length} bulk variables, expected ${count}`);
  const meter = new WindowMeter(() => ({ messages: 0, samples: 0 }));
  serveCommands(meter, async () => {
    await plant.stop();
    return {};
  });
  sendEvent('ready', { endpoint: plant.endpoint, namespaceUri: plant.namespaceUri, nodes: bulk });
});
