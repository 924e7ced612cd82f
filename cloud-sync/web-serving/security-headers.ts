/**
 * Headers on every response of the hub (web app, API, metrics). The policy
 * allows only the hub's own scripts, styles and images; inline styles are
 * allowed because uPlot positions its parts with style attributes. No inline
 * scripts, no framing (clickjacking), no MIME sniffing, no referrer to other sites.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};
