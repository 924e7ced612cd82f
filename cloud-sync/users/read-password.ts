import { readSecret } from '../../agent/config/secrets.js';
import { VigilError } from '../../shared/errors.js';

export interface PasswordSource {
  /** First line of this file. */
  passwordFile?: string | undefined;
  /** This environment variable. */
  passwordEnv?: string | undefined;
}

/**
 * A new password for `vigil hub users add|passwd`: from a file, an environment
 * variable, or typed at the terminal (not echoed, asked twice). Never an
 * argument: command lines end up in shell history and `ps`.
 */
export async function readNewPassword(source: PasswordSource, user: string): Promise<string> {
  if (source.passwordFile !== undefined || source.passwordEnv !== undefined) {
    return readSecret({ file: source.passwordFile, env: source.passwordEnv }, `password of ${user}`);
  }
  if (!process.stdin.isTTY) {
    throw new VigilError('VIGIL_SECRET_UNAVAILABLE', `no password for ${user}: pass --password-file <file> or --password-env <NAME>, or run the command in a terminal to type it`);
  }
  const first = await promptHidden(`Password for ${user}: `);
  const second = await promptHidden('Again: ');
  if (first !== second) throw new VigilError('VIGIL_SECRET_UNAVAILABLE', 'the two passwords differ; nothing was changed');
  return first;
}

/** Reads one line from the terminal in raw mode, echoing nothing. Ctrl-C aborts. */
function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new VigilError('VIGIL_SECRET_UNAVAILABLE', 'interrupted; nothing was changed'));
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else if (ch >= ' ') typed += ch;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}
