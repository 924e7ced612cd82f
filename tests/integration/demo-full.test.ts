import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, spawnVigil, type VigilProcess } from '../helpers/agent-process.js';

/** Whether something still accepts TCP connections on 127.0.0.1:port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function printed(out: string, pattern: RegExp, what: string): string {
  const found = pattern.exec(out)?.[1];
  if (!found) throw new Error(`the demo did not print ${what}:\n${out}`);
  return found;
}

/**
 * The whole demo as one real process: plant, hub with its web app, agent. It
 * learns pump 1's baseline after --train-after seconds, deploys it, injects
 * cavitation; an episode must reach the hub, and Ctrl-C must close everything.
 */
describe('vigil demo with hub and web app (real process)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-demo-full-'));
  let demo: VigilProcess | undefined;

  afterAll(() => {
    demo?.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('trains and deploys a model, an injected fault becomes an episode on the hub, and Ctrl-C leaves nothing listening', async () => {
    // 30 s of history at 200 ms gives ~140 windows: enough to train even when a loaded machine delays the plant's timer.
    demo = spawnVigil(['demo', '--duration', '0', '--train-after', '30', '--fault-every', '10', '--fault-for', '6', '--port', '0', '--hub-port', '0', '--data', dataDir]);
    const running = await demo.waitForLog('agent running', 60_000);
    const agentUrl = String(running.http);
    const out = demo.stdout();
    const webApp = printed(out, /Web app:\s+(http:\/\/\S+?)\/?\s/, 'the web app address');
    const user = printed(out, /Login:\s+user (\S+),/, 'the login');
    const password = printed(out, /Login:\s+user \S+, password (\S+)/, 'the password');
    const opcuaPort = Number(printed(out, /OPC UA server:\s+opc\.tcp:\/\/127\.0\.0\.1:(\d+)/, 'the OPC UA endpoint'));
    const mqttPort = Number(printed(out, /MQTT broker:\s+mqtt:\/\/127\.0\.0\.1:(\d+)/, 'the MQTT broker'));

    const login = await fetch(`${webApp}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user, password }) });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(cookie).not.toBe('');

    const home = await fetch(`${webApp}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toMatch(/text\/html/);
    expect(await home.text()).toMatch(/<script/);

    // The simulated pumps also stop and start by themselves, which the model may call an episode too:
    // wait for the first injected fault, then for an episode that it caused.
    const faultAt = await eventually(async () => (demo?.stdout().includes('fault injected: pump 1 cavitates') ? Date.now() : undefined), 'the first injected fault', 150_000);
    expect(demo.stdout()).toContain('trained on the hub and deployed to demo-gateway');
    const episodes = await eventually(
      async () => {
        const body = (await (await fetch(`${webApp}/api/episodes`, { headers: { cookie } })).json()) as { episodes: Array<{ episode: { agent: string; model: string; start: number; end: number | null } }> };
        // A window reaching back before the fault (at most its length, 6 s here) may open the episode.
        const caused = body.episodes.filter((e) => e.episode.start >= faultAt - 15_000 || e.episode.end === null || e.episode.end >= faultAt);
        return caused.length > 0 ? caused : undefined;
      },
      'an episode on the hub after the fault',
      150_000,
    ).catch(async (err: unknown) => {
      // What the demo said until now (not when the wait began), and what the agent scored: enough to tell a quiet model from a lost episode.
      const scores = await fetch(`${agentUrl}/models`).then((r) => r.text(), (e: unknown) => String(e));
      const log = demo!.stdout().split('\n');
      const said = log.filter((l) => !l.startsWith('{')).join('\n');
      const warnings = log.filter((l) => /"level":(40|50|60)/.test(l)).slice(-20).join('\n');
      throw new Error(`${String(err)}\ndemo output:\n${said}\nagent /models: ${scores}\nlast warnings and errors:\n${warnings}`);
    });
    expect(episodes[0]?.episode).toMatchObject({ agent: 'demo-gateway', model: 'pump1-baseline' });

    demo.child.kill('SIGINT');
    expect(await demo.exited).toBe(0);
    const hubPort = Number(new URL(webApp).port);
    const agentPort = Number(new URL(agentUrl).port);
    for (const port of [hubPort, agentPort, opcuaPort, mqttPort]) expect(await answers(port), `port ${port} after Ctrl-C`).toBe(false);
  }, 240_000);
});
