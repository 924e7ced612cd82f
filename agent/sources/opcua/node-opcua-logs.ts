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

// node-opcua checks PKCS#1 v1.5 support when it is first loaded and warns
// asynchronously on Node 20 (CVE-2023-46809). Vigil offers only OAEP/PSS
// policies, so the notice is noise on stdout, where our JSON log lines go:
// quiet the loggers as soon as this module (and so node-opcua) is loaded.
quietNodeOpcuaLogs();
