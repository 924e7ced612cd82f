import { setDebugLogger, setErrorLogger, setWarningLogger } from 'node-opcua';

let quiet = false;

/**
 * node-opcua prints its own warnings (certificate dumps, PKCS#1 notices) to the
 * console. The agent reports every problem itself, with a VIGIL_ code and a
 * next step, so node-opcua's lines would only duplicate them in journald.
 * Set VIGIL_OPCUA_DEBUG=1 to see them again while troubleshooting.
 */
export function quietNodeOpcuaLogs(): void {
  if (quiet || process.env.VIGIL_OPCUA_DEBUG) return;
  quiet = true;
  const drop = () => undefined;
  setDebugLogger(drop);
  setWarningLogger(drop);
  setErrorLogger(drop);
}
