const OTHER = '__other__';

interface CauseFieldProps {
  /** The admin-maintained causes; empty when there are none (or the hub has no list). */
  causes: readonly string[];
  value: string;
  onChange: (cause: string) => void;
  /** Typing a cause that is not in the list. */
  typing: boolean;
  onTypingChange: (typing: boolean) => void;
  disabled: boolean;
}

/** The cause of a real problem: picked from the list, or typed when it is not there. */
export function CauseField({ causes, value, onChange, typing, onTypingChange, disabled }: CauseFieldProps) {
  const text = (
    <input
      placeholder="Type the cause"
      value={value}
      maxLength={500}
      disabled={disabled}
      onInput={(e) => onChange(e.currentTarget.value)}
      data-testid="answer-cause-text"
      aria-label="Cause"
    />
  );
  if (causes.length === 0) return text;
  return (
    <>
      <select
        value={typing ? OTHER : value}
        disabled={disabled}
        onChange={(e) => {
          const picked = e.currentTarget.value;
          onTypingChange(picked === OTHER);
          onChange(picked === OTHER ? '' : picked);
        }}
        data-testid="answer-cause-select"
        aria-label="Cause"
      >
        <option value="">— no cause given —</option>
        {causes.map((c) => (
          <option value={c} key={c}>
            {c}
          </option>
        ))}
        <option value={OTHER}>Other (type it)…</option>
      </select>
      {typing ? text : null}
    </>
  );
}
