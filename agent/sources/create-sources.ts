import type { ResolvedConfig } from '../config/schema.js';
import { MqttSource } from './mqtt/mqtt-source.js';
import { OpcuaSource } from './opcua/opcua-source.js';
import type { Source, SourceContext } from './source.js';

/** One Source per configured server or broker, each with the tags that name it. */
export function createSources(config: ResolvedConfig, ctx: SourceContext): Source[] {
  return config.sources.map((source): Source => {
    const log = ctx.log.child({ source: source.name });
    const sourceCtx = { ...ctx, log };
    if (source.type === 'opcua') {
      return new OpcuaSource(source, config.opcuaTags.filter((t) => t.source === source.name), sourceCtx);
    }
    return new MqttSource(source, config.mqttTags.filter((t) => t.source === source.name), sourceCtx);
  });
}
