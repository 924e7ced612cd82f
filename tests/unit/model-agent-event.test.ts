import { describe, expect, it } from 'vitest';
import { modelAgentEvent } from '../../agent/episodes/model-agent-event.js';
import { ModelRegistry, type ModelEvent } from '../../agent/models/model-registry.js';

describe('modelAgentEvent', () => {
  it('a run-time fault, and a model left stopped by it, are model_fault events of their own', () => {
    const events: ModelEvent[] = [];
    const registry = new ModelRegistry({ now: () => 42, onEvent: (e) => events.push(e) });
    registry.offer({ name: 'pump', version: '1.0.0' }, { mode: 'activate' });
    registry.fault('pump', '1.0.0', 'NaN in the score output');
    const mapped = events.map((e) => modelAgentEvent('plant-1', e));
    expect(mapped.map((e) => e?.kind)).toEqual(['model_activated', 'model_fault', 'model_fault']);
    expect(mapped[1]).toEqual({
      kind: 'model_fault',
      at: 42,
      agent: 'plant-1',
      subject: 'pump',
      message: events[1]!.message,
      details: { version: '1.0.0', registryKind: 'fault', reason: 'NaN in the score output' },
    });
    expect(mapped[2]?.details).toMatchObject({ registryKind: 'stopped' });
  });

  it('rollbacks and refusals map to their kinds; staging, shadow and ignored offers stay local', () => {
    const events: ModelEvent[] = [];
    const registry = new ModelRegistry({ now: () => 7, onEvent: (e) => events.push(e) });
    registry.offer({ name: 'pump', version: '1.0.0' }, { mode: 'activate' });
    registry.offer({ name: 'pump', version: '1.1.0' }, { mode: 'activate' });
    registry.atWindowBoundary('pump', 5000);
    registry.offer({ name: 'pump', version: '1.2.0' }, { mode: 'shadow' });
    registry.offer({ name: 'pump', version: '0.9.0' }, { mode: 'activate' });
    registry.refused('pump', '2.0.0', 'checksum mismatch');
    registry.fault('pump', '1.1.0', 'wrong shape');
    const byKind = events.map((e) => [e.kind, modelAgentEvent('plant-1', e)?.kind ?? null]);
    expect(byKind).toEqual([
      ['activated', 'model_activated'],
      ['staged', null],
      ['activated', 'model_activated'],
      ['shadow_started', null],
      ['ignored', null],
      ['refused', 'model_refused'],
      ['fault', 'model_fault'],
      ['rolled_back', 'model_rolled_back'],
    ]);
    const activation = modelAgentEvent('plant-1', events[2]!);
    expect(activation?.details).toEqual({ version: '1.1.0', registryKind: 'activated', from: '1.0.0', windowStart: 5000 });
  });
});
