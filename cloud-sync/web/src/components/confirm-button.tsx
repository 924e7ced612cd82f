import { useEffect, useState } from 'preact/hooks';

interface ConfirmButtonProps {
  label: string;
  /** Shown on the second step, e.g. "Really roll back?". */
  confirmLabel: string;
  onConfirm: () => void;
  disabled?: boolean;
  testId?: string;
  danger?: boolean;
}

/**
 * A two-step button for actions that are hard to undo (roll back, revoke,
 * remove): the first click arms it for a few seconds, the second acts.
 * Inline rather than window.confirm, so it reads the same in every browser.
 */
export function ConfirmButton({ label, confirmLabel, onConfirm, disabled, testId, danger }: ConfirmButtonProps) {
  const [armed, setArmed] = useState(false);
  useEffect(() => {
    if (!armed) return;
    const timer = setTimeout(() => setArmed(false), 5000);
    return () => clearTimeout(timer);
  }, [armed]);
  return (
    <button
      type="button"
      class={armed || danger ? 'button-danger' : ''}
      disabled={disabled}
      data-testid={testId}
      data-armed={armed ? 'true' : 'false'}
      onClick={() => {
        if (!armed) return setArmed(true);
        setArmed(false);
        onConfirm();
      }}
    >
      {armed ? confirmLabel : label}
    </button>
  );
}
