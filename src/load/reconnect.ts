/**
 * The reconnect loop both load connections share (the RESP client and the HTTP one): after a
 * request outlived timeoutMs or the other side closed the connection, open it again the way a
 * client library does, with a pause that doubles from 25 ms to 500 ms, for `windowMs`.
 */

export interface ReconnectOutcome {
  /** The connection is open again. */
  readonly back: boolean;
  /** Why the last attempt failed ('' when none did). */
  readonly lastError: string;
}

/**
 * `attempt` opens the connection: undefined once it is back, else why not (or it throws). Stops
 * early, without another attempt, once `stopped()` (sellout closed the connection for good).
 */
export async function reconnect(attempt: () => Promise<string | undefined>, windowMs: number, stopped: () => boolean): Promise<ReconnectOutcome> {
  const started = Date.now();
  let pauseMs = 25;
  let lastError = '';
  for (;;) {
    if (stopped()) return { back: false, lastError };
    try {
      const why = await attempt();
      if (why === undefined) return { back: true, lastError };
      lastError = why;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() - started + pauseMs > windowMs || stopped()) return { back: false, lastError };
    await new Promise((r) => setTimeout(r, pauseMs));
    pauseMs = Math.min(pauseMs * 2, 500);
  }
}
