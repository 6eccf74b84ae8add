/** Escaping for everything a report embeds: text a scenario or Redis supplied is never trusted. */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** XML 1.0 forbids most control characters even as references: drop them, then escape. */
export function escapeXml(text: string): string {
  // eslint-disable-next-line no-control-regex
  return escapeHtml(text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, ''));
}

/**
 * JSON safe inside <script>: `<` becomes \u003c so no `</script>` or `<!--` can end the element,
 * and U+2028/2029 are escaped for old parsers.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** A library's source inlined into <script> or <style> must not close the element early. */
export function inlineSafe(source: string, element: 'script' | 'style'): string {
  return source.replace(new RegExp(`</(${element})`, 'gi'), '<\\/$1');
}

/** A Markdown table cell: pipes and newlines would break the row; HTML would render. */
export function escapeMdCell(text: string): string {
  return escapeHtml(text).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}
