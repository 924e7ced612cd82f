import { connect } from 'node:net';

export const BROKER_HOST = '127.0.0.1';
export const BROKER_PORT = 1883;
export const BROKER_URL = `mqtt://${BROKER_HOST}:${BROKER_PORT}`;

/**
 * The MQTT integration tests run against the machine's Mosquitto. When it is
 * not there the tests must fail loudly (never skip): call this in beforeAll.
 */
export async function requireBroker(timeoutMs = 2000): Promise<string> {
  const ok = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: BROKER_HOST, port: BROKER_PORT });
    const done = (result: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
  if (!ok) throw new Error(`Mosquitto is not answering on ${BROKER_HOST}:${BROKER_PORT} — start it with \`mosquitto -d\``);
  return BROKER_URL;
}
