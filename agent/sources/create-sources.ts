import type { ResolvedConfig, SourceConfig } from '../config/schema.js';
import { MqttSource } from './mqtt/mqtt-source.js';
import { OpcuaSource } from './opcua/opcua-source.js';
import type { Source, SourceContext } from './source.js';

/** The Source for one configured server or broker, with the tags of `config` that name it. */
export function createSource(source: SourceConfig, config: ResolvedConfig, ctx: SourceContext): Source {
  const sourceCtx = { ...ctx, log: ctx.log.child({ source: source.name }) };
  if (source.type === 'opcua') {
    return new OpcuaSource(source, config.opcuaTags.filter((t) => t.source === source.name), sourceCtx);
  }
  return new MqttSource(source, config.mqttTags.filter((t) => t.source === source.name), sourceCtx);
}
