import { describe, expect, it } from 'vitest';
import type { HubMessage } from '../../shared/sync-protocol.js';
import type { AgentChannel } from '../../cloud-sync/gateway/agent-channels.js';
import { HistoryRequests } from '../../cloud-sync/gateway/history-requests.js';

/** Channels of connected agents that keep what is sent to them (pure correlation logic; the sockets are tested in integration). */
function channels(accepting = true) {
  const sent: HubMessage[] = [];
  const channel: AgentChannel = { agent: 'gw1', send: (m) => (sent.push(m), accepting) };
  return { sent, channels: { get: (agent: string) => (agent === 'gw1' ? channel : undefined), connected: () => ['gw1'] } };
}
const what = { tags: ['a', 'b'], from: 0, to: 1000, maxSamples: 10 };
const requestId = (sent: HubMessage[]) => (sent[0] as Extract<HubMessage, { type: 'history_request' }>).request;

describe('HistoryRequests', () => {
  it('collects chunks per tag until last, ignoring answers from another agent', async () => {
    const { sent, channels: c } = channels();
    const requests = new HistoryRequests(c);
    const fetched = requests.fetch('gw1', what);
    const request = requestId(sent);
    expect(sent[0]).toMatchObject({ type: 'history_request', tags: ['a', 'b'], from: 0, to: 1000, maxSamples: 10 });
    requests.onHistoryMessage('gw1', { type: 'history_chunk', request, tag: 'a', ts: [1, 2], values: [1, null], quality: ['good', 'bad'], last: false });
    requests.onHistoryMessage('gw2', { type: 'history_error', request, message: 'not yours' });
    requests.onHistoryMessage('gw1', { type: 'history_chunk', request, tag: 'a', ts: [3], values: [3], quality: ['good'], last: false });
    requests.onHistoryMessage('gw1', { type: 'history_chunk', request, tag: 'b', ts: [1], values: [5], quality: ['uncertain'], last: true });
    expect(await fetched).toEqual([
      { tag: 'a', ts: [1, 2, 3], values: [1, null, 3], quality: ['good', 'bad', 'good'] },
      { tag: 'b', ts: [1], values: [5], quality: ['uncertain'] },
    ]);
    expect(requests.size).toBe(0);
  });

  it('refuses an agent that is not connected or whose connection does not take the request, and gives up on silence', async () => {
    await expect(new HistoryRequests(channels().channels).fetch('gw9', what)).rejects.toMatchObject({ code: 'VIGIL_API_CONFLICT' });
    await expect(new HistoryRequests(channels(false).channels).fetch('gw1', what)).rejects.toMatchObject({ code: 'VIGIL_API_CONFLICT' });

    const { sent, channels: c } = channels();
    const requests = new HistoryRequests(c, { idleTimeoutMs: 100 });
    const fetched = requests.fetch('gw1', what);
    // A chunk restarts the idle timer; then silence.
    await new Promise((r) => setTimeout(r, 60));
    requests.onHistoryMessage('gw1', { type: 'history_chunk', request: requestId(sent), tag: 'a', ts: [1], values: [1], quality: ['good'], last: false });
    const started = Date.now();
    await expect(fetched).rejects.toMatchObject({ code: 'VIGIL_API_CONFLICT', message: expect.stringMatching(/did not answer the history request within 100 ms/) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(80);
    expect(requests.size).toBe(0);
  });

  it('rejects on the agent’s history_error and on a chunk of a tag not asked for', async () => {
    const a = channels();
    const requests = new HistoryRequests(a.channels);
    const failing = requests.fetch('gw1', what);
    requests.onHistoryMessage('gw1', { type: 'history_error', request: requestId(a.sent), message: 'no samples of tag a' });
    await expect(failing).rejects.toMatchObject({ code: 'VIGIL_TRAINING_DATA_INVALID', message: 'agent gw1 cannot provide the history: no samples of tag a' });

    const b = channels();
    const other = new HistoryRequests(b.channels);
    const stray = other.fetch('gw1', what);
    other.onHistoryMessage('gw1', { type: 'history_chunk', request: requestId(b.sent), tag: 'z', ts: [1], values: [1], quality: ['good'], last: true });
    await expect(stray).rejects.toMatchObject({ code: 'VIGIL_SYNC_PROTOCOL' });
  });
});
