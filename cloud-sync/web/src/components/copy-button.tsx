import { useState } from 'preact/hooks';

/**
 * Copies a text to the clipboard. Browsers offer the clipboard only on HTTPS
 * (or localhost); on a plain-HTTP hub the button is left out and the text
 * stays selectable by hand.
 */
export function CopyButton({ text }: { text: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  if (!window.isSecureContext || !navigator.clipboard) return null;
  const copy = () =>
    navigator.clipboard.writeText(text).then(
      () => setState('copied'),
      () => setState('failed'),
    );
  return (
    <button type="button" onClick={() => void copy()}>
      {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed: select the text' : 'Copy'}
    </button>
  );
}
