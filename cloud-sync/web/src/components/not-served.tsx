/** An optional part this hub does not serve yet (its endpoint answered 404). */
export function NotServed({ what }: { what: string }) {
  return (
    <p class="muted" data-testid="not-available">
      {what}: not available on this hub.
    </p>
  );
}
