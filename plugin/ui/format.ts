// Small pure helpers of the panel: wording and encodings.

/** "about 40 s left", "about 3 min left", "about 1 h 5 min left"; null (no estimate yet) reads "estimating…". */
export function formatEta(etaMs: number | null): string {
  if (etaMs === null) return 'estimating time left…';
  const seconds = Math.max(1, Math.round(etaMs / 1000));
  if (seconds < 60) return `about ${seconds} s left`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min left`;
  return `about ${Math.floor(minutes / 60)} h ${minutes % 60} min left`;
}

/** "1200 × 800", rounding Figma's fractional sizes. */
export function formatDimensions(width: number, height: number): string {
  return `${Math.round(width)} × ${Math.round(height)}`;
}

/** Base64 of bytes, in chunks: String.fromCharCode takes only so many arguments at once. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  const chunk = 0x8000;
  for (let start = 0; start < bytes.length; start += chunk) {
    binary += String.fromCharCode(...bytes.subarray(start, start + chunk));
  }
  return btoa(binary);
}

export function pngDataUrl(png: Uint8Array | string): string {
  return `data:image/png;base64,${typeof png === 'string' ? png : bytesToBase64(png)}`;
}

/** An error's message, for the user. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
