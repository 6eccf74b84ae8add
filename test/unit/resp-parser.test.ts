/**
 * The hot-path RESP client's reply parser (src/load/resp.ts), fed byte streams split at every
 * possible boundary. The client reads through its `openSocket` seam from a stand-in socket, so each
 * chunk arrives exactly as the test cuts it (over TCP the kernel may join writes); one test at the
 * end talks to a real TCP peer to show the seam hides nothing. Redis's own behaviour (NOSCRIPT
 * after SCRIPT FLUSH, AUTH, SELECT, restarts) is tested against a real redis-server in
 * test/integration/resp-client.test.ts.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorReplies, type RefusalCode } from '../../src/load/error-replies.js';
import { DeductClient, Flusher, type ReplyHandler } from '../../src/load/resp.js';
import { journalKey, stockKey, DEFAULT_KEY_TEMPLATES, RunKeys } from '../../src/keys.js';
import { Code, type OutcomeCode } from '../../src/outcomes.js';
import { FakeSocket, parseCommand, standardSetup, type SetupReply } from '../helpers/fake-socket.js';

const SHA = 'a'.repeat(40);
const SOURCE = 'return 1';
const RUN = 'rp';
const SEED = 7;

interface Reply { index: number; code: OutcomeCode; value: number }

function harness(options: { setup?: (socketNo: number, command: string[]) => SetupReply | undefined; port?: number } = {}) {
  const sockets: FakeSocket[] = [];
  const replies: Reply[] = [];
  /** Closes, reconnects and refusals, in order, interleaved with `reply <index>` markers. */
  const events: string[] = [];
  const handler: ReplyHandler = {
    onReply: (_c, index, _twin, _sku, _qty, code, value) => { replies.push({ index, code, value }); events.push(`reply ${index}`); },
    onClosed: (_c, reason, reconnecting) => { events.push(`${reconnecting ? 'closing' : 'closed'}: ${reason}`); },
    onReconnected: () => { events.push('reconnected'); },
    onRefused: (_c, entry) => { events.push(`refused ${entry.refusal}`); },
    onRedirect: (_c, entry) => { events.push(`redirect ${entry.text}`); },
  };
  const errors = new ErrorReplies();
  const flusher = new Flusher();
  const client = new DeductClient(0, {
    endpoint: { host: '127.0.0.1', port: options.port ?? 1, db: 0, tls: false },
    keys: new RunKeys(DEFAULT_KEY_TEMPLATES, RUN), seed: SEED, scriptSha: SHA, scriptSource: SOURCE, errors,
    reconnectWindowMs: 500, connectTimeoutMs: 1000,
    ...(options.port === undefined
      ? {
          openSocket: () => {
            const n = sockets.length;
            const socket = new FakeSocket((command) => options.setup?.(n, command) ?? standardSetup(command));
            sockets.push(socket);
            return socket.asSocket();
          },
        }
      : {}),
  }, handler, flusher, () => 0);
  const socket = () => sockets.at(-1)!;
  /** Queues deductions first..first+n-1 (quantity 1, SKU 0) and writes them. */
  const send = (n: number, first = 0) => {
    for (let i = first; i < first + n; i++) client.send(i, 0, 0, 1, 0, 0);
    flusher.flush();
  };
  return { client, sockets, socket, replies, events, errors, flusher, send };
}

const tick = () => new Promise<void>((r) => setImmediate(r));
async function until(what: string, done: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** One reply as bytes and what the client must make of it. */
interface Case { bytes: string; code: OutcomeCode; value?: number; refusal?: RefusalCode }

const CASES: Case[] = [
  { bytes: ':42\r\n', code: Code.ok, value: 42 },
  { bytes: ':-7\r\n', code: Code.ok, value: -7 },
  { bytes: ':0\r\n', code: Code.ok, value: 0 },
  { bytes: ':1234567890123\r\n', code: Code.ok, value: 1234567890123 },
  { bytes: '-ERR OPERATION_ALREADY_EXECUTED\r\n', code: Code.duplicate },
  { bytes: '-ERR INVENTORY_NOT_ENOUGH\r\n', code: Code.sold_out },
  { bytes: '-ERR KEY_NOT_FOUND\r\n', code: Code.not_found },
  { bytes: '-ERR INVALID_QUANTITY\r\n', code: Code.invalid },
  { bytes: '-ERR current value is not a number\r\n', code: Code.invalid },
  // Older servers wrap a script's error in "Error running script …".
  { bytes: '-ERR Error running script (call to f_1): @user_script:30: INVENTORY_NOT_ENOUGH\r\n', code: Code.sold_out },
  { bytes: '-ERR attempt to compare nil with number\r\n', code: Code.error },
  { bytes: "-OOM command not allowed when used memory > 'maxmemory'.\r\n", code: Code.error, refusal: 'OOM' },
  { bytes: "-NOPERM this user has no permissions to run the 'evalsha' command\r\n", code: Code.error, refusal: 'NOPERM' },
  { bytes: "-READONLY You can't write against a read only replica.\r\n", code: Code.error, refusal: 'READONLY' },
  { bytes: '-MOVED 3999 127.0.0.1:6381\r\n', code: Code.error, refusal: 'MOVED' },
  { bytes: '-LOADING Redis is loading the dataset in memory\r\n', code: Code.error, refusal: 'LOADING' },
  { bytes: '-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n', code: Code.error, refusal: 'BUSY' },
  { bytes: '+OK\r\n', code: Code.error },
  { bytes: '$-1\r\n', code: Code.error },
  { bytes: '$2\r\n17\r\n', code: Code.ok, value: 17 },
  { bytes: '$3\r\n-17\r\n', code: Code.ok, value: -17 },
  { bytes: '$5\r\nhello\r\n', code: Code.error },
  { bytes: '$4\r\n12ab\r\n', code: Code.error },
  { bytes: '$1\r\n-\r\n', code: Code.error },
  { bytes: '$0\r\n\r\n', code: Code.error },
  // A bulk string may hold CR LF: its length, not a line end, says where it stops.
  { bytes: '$6\r\n1\r\n2\r\n\r\n', code: Code.error },
  { bytes: '*-1\r\n', code: Code.error },
  { bytes: '*0\r\n', code: Code.error },
  { bytes: '*3\r\n:1\r\n*2\r\n$3\r\nfoo\r\n*1\r\n-ERR x\r\n$-1\r\n', code: Code.error },
  { bytes: '*2\r\n*2\r\n+a\r\n$2\r\n\r\n\r\n:9\r\n', code: Code.error },
  // After the arrays: the next reply is read from exactly where the array ended.
  { bytes: ':5\r\n', code: Code.ok, value: 5 },
];
const STREAM = Buffer.from(CASES.map((c) => c.bytes).join(''), 'latin1');
const EXPECTED: Reply[] = CASES.map((c, index) => ({ index, code: c.code, value: c.value ?? NaN }));
/** Per round: each refusal announced (before its reply), then the reply. */
const EXPECTED_EVENTS = CASES.flatMap((c, i) => [...(c.refusal ? [`refused ${c.refusal}`] : []), `reply ${i}`]);

describe('RESP reply parsing (bytes split at every boundary)', () => {
  it('the deduction is written as EVALSHA sha 2 stock journal qty id', async () => {
    const h = harness();
    await h.client.connect();
    h.client.send(12, 0, 3, 2, 0, 0);
    h.client.send(7_000_000_001, 0, 0, 15, 0, 0);
    h.flusher.flush();
    expect(h.socket().commands).toEqual([
      ['EVALSHA', SHA, '2', stockKey(RUN, 3), journalKey(RUN, 3), '2', `DEC-${SEED}-12`],
      ['EVALSHA', SHA, '2', stockKey(RUN, 0), journalKey(RUN, 0), '15', `DEC-${SEED}-7000000001`],
    ]);
    h.client.close();
  });

  it('every reply type, as one chunk, split at each byte, and one byte at a time', async () => {
    const h = harness();
    await h.client.connect();
    const splits: number[][] = [[STREAM.length]];
    for (let k = 1; k < STREAM.length; k++) splits.push([k, STREAM.length]);
    splits.push(Array.from({ length: STREAM.length }, (_, i) => i + 1));
    // One connection for every round: bytes left over from one round would garble the next.
    for (const cuts of splits) {
      h.replies.length = 0;
      h.events.length = 0;
      h.send(CASES.length);
      let from = 0;
      for (const to of cuts) {
        h.socket().deliver(STREAM.subarray(from, to));
        from = to;
      }
      const where = cuts.length === 1 ? 'one chunk' : cuts.length === 2 ? `split at byte ${cuts[0]}` : 'one byte at a time';
      expect(h.replies, where).toEqual(EXPECTED);
      expect(h.events, where).toEqual(EXPECTED_EVENTS);
      expect(h.client.inFlight, where).toBe(0);
    }
    expect(h.sockets).toHaveLength(1);
    expect(h.client.alive).toBe(true);
    // Only `error` outcomes are listed (in the order first seen), each once per round, refusals flagged.
    const errorCases = CASES.filter((c) => c.code === Code.error && c.bytes.startsWith('-'));
    expect(h.errors.list()).toEqual(errorCases.map((c) => ({
      reply: c.bytes.slice(1, -2), count: splits.length, ...(c.refusal ? { refusal: c.refusal } : {}),
    })));
    h.client.close();
  });

  it('NOSCRIPT: one SCRIPT LOAD, the deductions resent in order behind it; a second NOSCRIPT is an error', async () => {
    const h = harness();
    await h.client.connect();
    h.send(3);
    const noscript = '-NOSCRIPT No matching script. Please use EVAL.\r\n';
    // Two arrive, the third is cut: the reload is written once the chunk is handled, not per reply.
    h.socket().deliver(noscript + noscript + noscript.slice(0, 9));
    h.socket().deliver(noscript.slice(9));
    expect(h.replies).toEqual([]);
    expect(h.client.inFlight).toBe(3);
    const evalsha = (i: number) => ['EVALSHA', SHA, '2', stockKey(RUN, 0), journalKey(RUN, 0), '1', `DEC-${SEED}-${i}`];
    expect(h.socket().commands).toEqual([evalsha(0), evalsha(1), evalsha(2), ['SCRIPT', 'LOAD', SOURCE], evalsha(0), evalsha(1), evalsha(2)]);
    // A deduction sent meanwhile goes behind the resends.
    h.send(1, 3);
    h.socket().deliver(`$40\r\n${SHA}\r\n:9\r\n:8\r\n${noscript}:7\r\n`);
    expect(h.replies).toEqual([
      { index: 0, code: Code.ok, value: 9 },
      { index: 1, code: Code.ok, value: 8 },
      { index: 2, code: Code.error, value: NaN },
      { index: 3, code: Code.ok, value: 7 },
    ]);
    // The resend's NOSCRIPT is an outcome, not another reload.
    expect(h.socket().commands).toHaveLength(8);
    expect(h.errors.list()).toEqual([{ reply: 'NOSCRIPT No matching script. Please use EVAL.', count: 1 }]);
    expect(h.client.inFlight).toBe(0);
    h.client.close();
  });

  it('a reply with no request in flight is a protocol error: the connection is reopened', async () => {
    const h = harness();
    await h.client.connect();
    h.send(1);
    // What follows the stray reply in its chunk is the old socket's: not a reply to the new one's setup.
    h.socket().deliver(':3\r\n:4\r\n:5\r\n');
    expect(h.replies).toEqual([{ index: 0, code: Code.ok, value: 3 }]);
    expect(h.sockets[0]!.destroyed).toBe(true);
    await until('the reconnect', () => h.events.includes('reconnected'));
    expect(h.events).toEqual(['reply 0', 'closing: protocol error: a reply arrived with no request in flight', 'reconnected']);
    expect(h.sockets).toHaveLength(2);
    expect(h.client.reconnects).toBe(1);
    // The new connection works.
    h.send(1, 1);
    h.socket().deliver(':2\r\n');
    expect(h.replies.at(-1)).toEqual({ index: 1, code: Code.ok, value: 2 });
    h.client.close();
  });

  it('a stray reply right behind the PONG of a reconnect drops that connection too', async () => {
    // Socket 1 (the reconnect) answers PING with one reply too many, in the same chunk.
    const h = harness({ setup: (n, command) => (n === 1 && command[0] === 'PING' ? '+PONG\r\n:1\r\n' : undefined) });
    await h.client.connect();
    h.socket().deliver(':1\r\n');
    await until('the second reconnect', () => h.sockets.length === 3 && h.events.includes('reconnected'));
    expect(h.sockets[1]!.destroyed).toBe(true);
    expect(h.events.filter((e) => e === 'reconnected')).toEqual(['reconnected']);
    expect(h.events[0]).toBe('closing: protocol error: a reply arrived with no request in flight');
    expect(h.client.alive).toBe(true);
    h.send(1);
    h.socket().deliver(':6\r\n');
    expect(h.replies).toEqual([{ index: 0, code: Code.ok, value: 6 }]);
    h.client.close();
  });

  it('a reply cut off by a failed setup is not glued to the next connection\'s first reply', async () => {
    // The first server answers PING with half an error line and hangs up.
    const h = harness({ setup: (n, command) => (n === 0 && command[0] === 'PING' ? { reply: '-ERR max number of cli', thenClose: true } : undefined) });
    await expect(h.client.connect()).rejects.toThrow('the server closed the connection during setup');
    await h.client.connect();
    expect(h.client.alive).toBe(true);
    h.send(1);
    h.socket().deliver(':8\r\n');
    expect(h.replies).toEqual([{ index: 0, code: Code.ok, value: 8 }]);
    h.client.close();
  });

  it('garbage during the setup fails the setup, naming it', async () => {
    const h = harness({ setup: (_n, command) => (command[0] === 'PING' ? 'HTTP/1.1 400 Bad Request\r\n' : undefined) });
    await expect(h.client.connect()).rejects.toThrow(/^protocol error during the connection setup: unexpected reply type byte 0x48 \(H\)$/);
    expect(h.sockets[0]!.destroyed).toBe(true);
    expect(h.events).toEqual([]);
  });

  it('an unknown type byte is a protocol error at once, at every split: requests in flight become unknown', async () => {
    const stream = Buffer.from(':5\r\n!13\r\nblob error\r\n', 'latin1');
    for (let k = 1; k <= stream.length; k++) {
      const h = harness();
      await h.client.connect();
      h.send(2);
      h.socket().deliver(stream.subarray(0, k));
      if (k < 5) {
        // The type byte has not arrived yet: nothing is decided about the second reply.
        expect(h.events.filter((e) => e.startsWith('clos')), `split at ${k}`).toEqual([]);
        h.socket().deliver(stream.subarray(k, 5));
      }
      // The '!' alone is enough: no waiting for a line end that might never come.
      expect(h.replies, `split at ${k}`).toEqual([{ index: 0, code: Code.ok, value: 5 }, { index: 1, code: Code.unknown, value: NaN }]);
      expect(h.events[2], `split at ${k}`).toBe('closing: protocol error: unexpected reply type byte 0x21 (!)');
      await until('the reconnect', () => h.events.includes('reconnected'));
      expect(h.client.inFlight).toBe(0);
      h.client.close();
    }
  });
});

/** Bytes copied by Buffer.concat and Buffer.from(buffer) while `run` runs. */
function bytesCopied(run: () => void): { bytes: number; concats: number } {
  const concat = vi.spyOn(Buffer, 'concat');
  const from = vi.spyOn(Buffer, 'from');
  try {
    run();
    const concatBytes = concat.mock.results.reduce((n, r) => n + (r.value as Buffer).length, 0);
    const fromBytes = from.mock.calls.reduce((n, args) => n + (args[0] instanceof Uint8Array ? args[0].length : 0), 0);
    return { bytes: concatBytes + fromBytes, concats: concat.mock.calls.length };
  } finally {
    concat.mockRestore();
    from.mockRestore();
  }
}

describe('big replies are joined once (O(n), not O(n^2))', () => {
  const MB10 = 10 * 1024 * 1024;
  const CHUNK = 64 * 1024;
  const big = (text: string, fill: number, tail: string) => Buffer.concat([Buffer.from(text, 'latin1'), Buffer.alloc(fill, 0x78), Buffer.from(tail, 'latin1')]);
  /** maxConcats: joins allowed; a big value is joined once, small cut elements once per chunk at most. */
  const cases: { name: string; bytes: Buffer; firstChunk?: number; maxConcats?: number }[] = [
    { name: 'a 10 MB bulk string', bytes: big(`$${MB10}\r\n`, MB10, '\r\n:7\r\n') },
    { name: 'a 10 MB bulk string whose header is cut', bytes: big(`$${MB10}\r\n`, MB10, '\r\n:7\r\n'), firstChunk: 4 },
    { name: 'an array of two 5 MB bulk strings', bytes: Buffer.concat([big(`*2\r\n$${MB10 / 2}\r\n`, MB10 / 2, '\r\n'), big(`$${MB10 / 2}\r\n`, MB10 / 2, '\r\n:7\r\n')]) },
    // Its elements are skipped as they arrive: only an element cut by a chunk's end is carried.
    { name: 'an array of 1,000,000 small elements', bytes: Buffer.from(`*1000000\r\n${':12345\r\n'.repeat(500_000)}${'+abc\r\n'.repeat(500_000)}:7\r\n`, 'latin1'), maxConcats: 120 },
    { name: 'a 10 MB error line', bytes: big('-ERR ', MB10, '\r\n:7\r\n') },
    { name: 'a 10 MB simple string', bytes: big('+', MB10, '\r\n:7\r\n') },
  ];
  for (const c of cases) {
    it(`${c.name} in 64 KiB chunks`, async () => {
      const h = harness();
      await h.client.connect();
      h.send(2);
      const { bytes, concats } = bytesCopied(() => {
        let p = 0;
        if (c.firstChunk) { h.socket().deliver(c.bytes.subarray(0, c.firstChunk)); p = c.firstChunk; }
        for (; p < c.bytes.length; p += CHUNK) h.socket().deliver(c.bytes.subarray(p, p + CHUNK));
      });
      expect(h.replies).toEqual([{ index: 0, code: Code.error, value: NaN }, { index: 1, code: Code.ok, value: 7 }]);
      // Re-joining on every chunk would copy about 160 x 5 MB = 800 MB; once is the reply's size
      // (an error line is also kept once as the error's text), plus a chunk or two.
      expect(bytes).toBeLessThanOrEqual(2 * c.bytes.length + 2 * CHUNK);
      expect(concats).toBeLessThanOrEqual(c.maxConcats ?? 3);
      h.client.close();
    });
  }
});

describe('over a real TCP peer', () => {
  let server: Server | undefined;
  afterEach(async () => { await new Promise<void>((r) => (server ? server.close(() => r()) : r())); server = undefined; });

  it('replies written one byte per write, then a stray reply: right outcomes, then a new connection', async () => {
    const connections: Socket[] = [];
    server = createServer((peer) => {
      connections.push(peer);
      peer.setNoDelay(true);
      let input = Buffer.alloc(0);
      let deductions = 0;
      peer.on('error', () => {});
      peer.on('data', async (chunk: Buffer) => {
        input = Buffer.concat([input, chunk]);
        for (let parsed = parseCommand(input); parsed; parsed = parseCommand(input)) {
          input = input.subarray(parsed.end);
          if (parsed.command[0] === 'PING') { peer.write('+PONG\r\n'); continue; }
          if (++deductions < CASES.length) continue;
          for (let i = 0; i < STREAM.length && !peer.destroyed; i++) {
            peer.write(STREAM.subarray(i, i + 1));
            await new Promise((r) => setImmediate(r));
          }
          peer.write(':1\r\n');
        }
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const h = harness({ port });
    await h.client.connect();
    h.send(CASES.length);
    await until('the reconnect after the stray reply', () => h.events.includes('reconnected'), 10_000);
    expect(h.replies).toEqual(EXPECTED);
    expect(h.events).toEqual([...EXPECTED_EVENTS, 'closing: protocol error: a reply arrived with no request in flight', 'reconnected']);
    expect(connections).toHaveLength(2);
    h.client.close();
    for (const c of connections) c.destroy();
  });
});
