/** The live progress line (stderr, TTY only): elapsed / planned, replies/s, ok p99, stock left, outcomes. */
import type { LoadProgress } from '../load/coordinator.js';
import { OUTCOMES } from '../outcomes.js';
import { formatUs } from '../report/console.js';
import { int } from '../numbers.js';

export function formatProgress(p: LoadProgress): string {
  const elapsed = `${(p.elapsedMs / 1000).toFixed(0)}s`;
  const planned = p.plannedMs !== null ? `/${(p.plannedMs / 1000).toFixed(0)}s` : p.plannedRequests !== null ? ` ${int(p.replies)}/${int(p.plannedRequests)}` : '';
  const parts = [
    `${elapsed}${planned}`,
    `${int(p.repliesPerSecond)} replies/s`,
    `ok p99 ${p.okP99Us === null ? '-' : formatUs(p.okP99Us)}`,
    `stock ${p.stockLeft === null ? '?' : int(p.stockLeft)} left`,
    OUTCOMES.filter((o) => p.counts[o] > 0).map((o) => `${o} ${int(p.counts[o])}`).join(' · ') || 'no replies yet',
  ];
  if (p.dropped > 0) parts.push(`dropped ${int(p.dropped)}`);
  return `sellout ${parts.join('  ')}`;
}

/** Rewrites one line in place; `done()` clears it so the summary starts on a clean line. */
export function progressLine(write: (text: string) => void, columns = 120) {
  let shown = false;
  return {
    update(p: LoadProgress): void {
      write(`\r\x1b[K${formatProgress(p).slice(0, Math.max(20, columns - 1))}`);
      shown = true;
    },
    done(): void {
      if (shown) write('\r\x1b[K');
      shown = false;
    },
  };
}
