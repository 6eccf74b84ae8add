/**
 * The floor Node itself sets at 1 connection x 1 in flight on this machine: a minimal client, a
 * worker thread (as sellout's load runs) writing the same EVALSHA on a raw socket, one at a time,
 * timing each with performance.now() into a plain array: no histograms, no records, no executor,
 * no coordinator. Its warm-up is sellout's (WARM_UP_PER_WORKER deductions, not counted). What it
 * adds over redis-benchmark (a C client) is V8 and libuv; what sellout adds over it is sellout's.
 *
 * This file is both sides: imported, it runs the arm; as a worker (workerData.nodeFloor), the loop.
 */
import { Socket } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { WARM_UP_PER_WORKER } from '../../src/load/warm-up.js';

export interface NodeFloorArgs {
  readonly port: number;
  readonly sha: string;
  readonly stockKey: string;
  readonly journalKey: string;
  readonly requests: number;
}

export interface NodeFloorResult {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
}

/** Runs the minimal client in a fresh worker thread (a fresh connection, like sellout's 1x1 arm). */
export function runNodeFloor(args: NodeFloorArgs): Promise<NodeFloorResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { nodeFloor: args } });
    worker.once('message', (result: NodeFloorResult | { error: string }) => {
      if ('error' in result) reject(new Error(`node floor: ${result.error}`));
      else resolve(result);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => { if (code !== 0) reject(new Error(`node floor: worker exited ${code}`)); });
  });
}

/** The nearest-rank percentile of sorted values, as redis-benchmark's distribution reads. */
function at(sorted: Float64Array, p: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
}

function command(args: NodeFloorArgs, id: string): Buffer {
  const parts = ['EVALSHA', args.sha, '2', args.stockKey, args.journalKey, '1', id];
  return Buffer.from(`*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`);
}

async function loop(args: NodeFloorArgs): Promise<NodeFloorResult> {
  const socket = new Socket();
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(args.port, '127.0.0.1', () => { socket.off('error', reject); resolve(); });
  });
  const total = WARM_UP_PER_WORKER + args.requests;
  const latencies = new Float64Array(args.requests);
  let i = 0;
  let sentAt = 0;
  let failure = '';
  const send = () => {
    sentAt = performance.now();
    socket.write(command(args, `floor-${process.pid}-${i}`));
  };
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    // Every reply is one line (`:<new stock>` or an error), and at 1x1 the next goes out when it ends.
    let lineStart = true;
    socket.on('data', (chunk: Buffer) => {
      const now = performance.now();
      for (let b = 0; b < chunk.length; b++) {
        if (lineStart && chunk[b] !== 0x3a) failure ||= chunk.toString('latin1', b).trim();
        lineStart = chunk[b] === 0x0a;
        if (!lineStart) continue;
        if (i >= WARM_UP_PER_WORKER) latencies[i - WARM_UP_PER_WORKER] = (now - sentAt) * 1000;
        if (++i === total) return resolve();
        send();
      }
    });
    send();
  });
  socket.destroy();
  if (failure) throw new Error(`a reply was not an integer: ${failure}`);
  latencies.sort();
  return { p50Us: at(latencies, 50), p99Us: at(latencies, 99), p999Us: at(latencies, 99.9) };
}

if (!isMainThread && (workerData as { nodeFloor?: NodeFloorArgs } | null)?.nodeFloor !== undefined) {
  loop((workerData as { nodeFloor: NodeFloorArgs }).nodeFloor).then(
    (result) => parentPort!.postMessage(result),
    (err: Error) => parentPort!.postMessage({ error: err.message }),
  );
}
