import { describe, expect, it } from 'vitest';
import { TopicMatcher, topicFilterProblem } from '../../agent/sources/mqtt/topic-match.js';

describe('TopicMatcher', () => {
  const m = new TopicMatcher<string>(4);
  m.add('plant/+/pump/+/temp', 'pumpTemp');
  m.add('plant/#', 'all');
  m.add('plant/line1/pump/1/temp', 'exact');
  m.add('+/line2/#', 'line2');
  m.add('#', 'everything');

  it('matches + and # like a broker, in the order the rules were added', () => {
    expect(m.match('plant/line1/pump/1/temp').rules).toEqual(['pumpTemp', 'all', 'exact', 'everything']);
    expect(m.match('plant/line2/pump/9/temp').rules).toEqual(['pumpTemp', 'all', 'line2', 'everything']);
    expect(m.match('plant/line1/pump/1/temp/extra').rules).toEqual(['all', 'everything']);
    expect(m.match('plant').rules).toEqual(['all', 'everything']);
    expect(m.match('other/x').rules).toEqual(['everything']);
    expect(m.match('x/line2').rules).toEqual(['line2', 'everything']);
  });

  it('gives the topic levels with the match', () => {
    expect(m.match('plant/a/pump/3/temp').levels).toEqual(['plant', 'a', 'pump', '3', 'temp']);
  });

  it('keeps wildcards away from $SYS topics', () => {
    expect(m.match('$SYS/broker/uptime').rules).toEqual([]);
  });

  it('treats empty levels as levels', () => {
    const e = new TopicMatcher<string>();
    e.add('a/+/c', 'r');
    expect(e.match('a//c').rules).toEqual(['r']);
    expect(e.match('a/c').rules).toEqual([]);
  });

  it('answers repeated topics from a bounded cache and stays correct past its size', () => {
    for (let i = 0; i < 20; i++) expect(m.match(`plant/l${i}/pump/1/temp`).rules).toContain('pumpTemp');
    expect(m.match('plant/l1/pump/1/temp')).toBe(m.match('plant/l1/pump/1/temp'));
  });

  it('rejects filters a broker would reject', () => {
    expect(topicFilterProblem('a/#/b')).toMatch(/# must be/);
    expect(topicFilterProblem('a/b#')).toMatch(/# must be/);
    expect(topicFilterProblem('a/x+/b')).toMatch(/\+ must be/);
    expect(topicFilterProblem('a/+/b/#')).toBeUndefined();
    expect(() => new TopicMatcher().add('a/#/b', 1)).toThrow(/topic filter a\/#\/b/);
  });
});
