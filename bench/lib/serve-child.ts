/**
 * The reference sale service in a process of its own, for the http part of the bench:
 *   node dist/bench/lib/serve-child.js <redis host> <redis port> <run id>
 * It is what `sellout run` starts for an HTTP-mode scenario (startSaleService on a connectAdmin
 * connection, the default key templates with the run ID filled in), but out of the bench's process:
 * the load generators compared (sellout's and the autocannon CLI) then both meet a service that
 * shares no event loop with either. Prints one line `{"port": N}` once it listens; stops (its
 * requests in flight answered first) on SIGTERM or when its stdin closes (the bench went away).
 */
import { DEFAULT_KEY_TEMPLATES } from '../../src/keys.js';
import { connectAdmin } from '../../src/redis/index.js';
import { startSaleService } from '../../src/serve/service.js';
import { SCRIPT_SOURCE } from './server.js';

const [host, port, runId] = process.argv.slice(2);
if (!host || !port || !runId) {
  process.stderr.write('usage: serve-child.js <redis host> <redis port> <run id>\n');
  process.exit(2);
}
const fill = (template: string, sku: string) => template.replaceAll('<run>', runId).replaceAll('<sku>', sku);
const redis = await connectAdmin({ host, port: Number(port), db: 0, tls: false });
const service = await startSaleService({
  redis,
  scriptSource: SCRIPT_SOURCE,
  keys: { stock: (sku) => fill(DEFAULT_KEY_TEMPLATES.stock, sku), journal: (sku) => fill(DEFAULT_KEY_TEMPLATES.journal, sku) },
});
process.stdout.write(`${JSON.stringify({ port: service.port })}\n`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await service.close();
  redis.disconnect();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
