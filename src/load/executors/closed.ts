/**
 * Closed model: `connections` x `inFlight` requests outstanding; each slot sends its next request
 * as soon as its previous reply arrives (memtier's clients x pipeline), until the source is
 * exhausted, the deadline passes or the run is stopped.
 */
import { performance } from 'node:perf_hooks';
import type { DeductConnection } from '../connection.js';
import type { Plan } from '../plan.js';
import type { Recorder } from '../recorder.js';
import type { RequestSource } from '../source.js';

export interface ClosedOptions {
  readonly connections: readonly DeductConnection[];
  readonly inFlight: number;
  readonly plan: Plan;
  readonly source: RequestSource;
  readonly recorder: Recorder;
  /** performance.now() at the run's t0; times are recorded in microseconds since then. */
  readonly t0: number;
  /** Stop sending at this performance.now() (duration scenarios). */
  readonly deadline?: number;
  readonly signal?: AbortSignal;
}

export async function runClosed(options: ClosedOptions): Promise<void> {
  const { connections, inFlight, plan, source, recorder, t0, deadline = Infinity, signal } = options;

  const slot = async (connection: DeductConnection): Promise<void> => {
    for (;;) {
      if (signal?.aborted) return;
      const now = performance.now();
      if (now >= deadline) return;
      const next = source.next();
      if (next === undefined) {
        // Nothing left right now; a sequential twin may still be released by a reply in flight.
        if (source.exhausted) return;
        if (!(await waitForTwin())) return;
        continue;
      }
      const sku = plan.skuOf(next.index);
      const quantity = plan.quantityOf(next.index);
      const sentUs = (now - t0) * 1000;
      busy++;
      const reply = await connection.deduct(sku, quantity, next.index);
      busy--;
      const repliedUs = (performance.now() - t0) * 1000;
      recorder.record(next.index, next.twin, sku, quantity, reply.code, reply.value, sentUs, repliedUs);
      source.replied(next.index, next.twin);
      wakeWaiters();
    }
  };

  // Slots that found nothing to send wait here until a reply might have released a twin.
  let waiters: (() => void)[] = [];
  let busy = 0; // slots waiting for a reply right now
  const wakeWaiters = () => { const w = waiters; waiters = []; for (const wake of w) wake(); };
  const waitForTwin = () =>
    new Promise<boolean>((resolve) => {
      // If no slot awaits a reply, no twin can be released any more: this slot is done.
      if (busy === 0) return resolve(false);
      waiters.push(() => resolve(true));
    });

  const slots: Promise<void>[] = [];
  for (const connection of connections) {
    for (let i = 0; i < inFlight; i++) {
      slots.push(
        (async () => {
          try { await slot(connection); } finally { wakeWaiters(); }
        })(),
      );
    }
  }
  await Promise.all(slots);
}
