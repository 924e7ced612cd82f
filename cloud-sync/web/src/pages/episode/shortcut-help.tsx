const SHORTCUTS: Array<[string, string]> = [
  ['r', 'Real problem'],
  ['n', 'Normal operation'],
  ['u', 'Not sure'],
  ['Enter', 'Submit the answer (Ctrl+Enter inside the note)'],
  ['j', 'Next episode in the list'],
  ['k', 'Previous episode in the list'],
  ['Esc', 'Leave a text field, close this help'],
  ['?', 'Show or hide this help'],
];

/** The review shortcuts; answering keys are listed as unavailable for viewers. */
export function ShortcutHelp({ canResolve, onClose }: { canResolve: boolean; onClose: () => void }) {
  return (
    <div class="overlay" onClick={onClose}>
      <div class="card shortcut-help" role="dialog" aria-label="Keyboard shortcuts" data-testid="shortcut-help" onClick={(e) => e.stopPropagation()}>
        <h2>Keyboard shortcuts</h2>
        <table class="table">
          <tbody>
            {SHORTCUTS.map(([key, text]) => {
              const answering = ['r', 'n', 'u', 'Enter'].includes(key);
              return (
                <tr key={key} class={answering && !canResolve ? 'muted' : ''}>
                  <td>
                    <kbd>{key}</kbd>
                  </td>
                  <td>
                    {text}
                    {answering && !canResolve ? ' (not for viewers)' : ''}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}
