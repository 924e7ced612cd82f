import { describe, expect, it } from 'vitest';
import { NameTemplate } from '../../agent/sources/mqtt/name-template.js';

describe('NameTemplate', () => {
  it('keeps a name without placeholders as it is', () => {
    const t = new NameTemplate('pump1.temp');
    expect(t.constant).toBe('pump1.temp');
    expect(t.bind(['a'])!.complete).toBe('pump1.temp');
  });

  it('fills topic levels once per topic', () => {
    const t = new NameTemplate('{1}.pump{3}.{4}');
    const bound = t.bind('plant/line1/pump/7/temp'.split('/'))!;
    expect(bound.complete).toBe('line1.pump7.temp');
    expect(t.bind(['plant', 'line1'])).toBeUndefined();
  });

  it('leaves {name} and {metric} for each sample', () => {
    const named = new NameTemplate('{1}.{name}').bind(['plant', 'line2'])!;
    expect(named.complete).toBeUndefined();
    expect(named.fill('vib.x', undefined)).toBe('line2.vib.x');
    expect(named.fill(undefined, undefined)).toBeUndefined();
    expect(named.fill('', undefined)).toBeUndefined();
    const sp = new NameTemplate('{group}/{node}/{device}:{metric}').bind('spBv1.0/plant1/DDATA/edge1/comp1'.split('/'))!;
    expect(sp.fill(undefined, 'Outlet/Pressure')).toBe('plant1/edge1/comp1:Outlet/Pressure');
  });

  it('reports what it uses', () => {
    const t = new NameTemplate('a{0}{name}{metric}{12}');
    expect([t.usesName, t.usesMetric, t.maxLevel, t.constant]).toEqual([true, true, 12, undefined]);
  });

  it('rejects unknown or unclosed placeholders with a hint', () => {
    expect(() => new NameTemplate('x.{foo}')).toThrow(/unknown placeholder \{foo\}; use \{0\}/);
    expect(() => new NameTemplate('x.{1')).toThrow(/not closed/);
  });
});
