/** Small HTTP clients for the sale-service tests: one POST, many at once, raw pipelined requests. */
import { connect } from 'node:net';

export interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

export async function post(url: string, body: unknown, path = '/deduct'): Promise<Reply> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) as Record<string, unknown> : {}, headers: res.headers };
}

export async function get(url: string, path: string): Promise<Reply> {
  const res = await fetch(`${url}${path}`);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) as Record<string, unknown> : {}, headers: res.headers };
}

export interface Deduction {
  readonly sku: string;
  readonly quantity: number;
  readonly requestId: string;
}

/** Sends every deduction, `concurrency` at a time (keep-alive connections), answers in input order. */
export async function fire(url: string, deductions: readonly Deduction[], concurrency = 200): Promise<Reply[]> {
  const replies: Reply[] = new Array(deductions.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, deductions.length) }, async () => {
    while (next < deductions.length) {
      const i = next++;
      replies[i] = await post(url, deductions[i]);
    }
  }));
  return replies;
}

/** Writes `raw` (several requests back to back) on one socket and returns the status lines and bodies in the order they came. */
export function pipelined(port: number, raw: string, expected: number): Promise<{ status: number; body: string; head: string }[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const parse = () => {
      const out: { status: number; body: string; head: string }[] = [];
      let rest = data;
      while (rest.length > 0) {
        const end = rest.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = rest.slice(0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (rest.length < end + 4 + length) break;
        out.push({ status: Number(head.split(' ')[1]), body: rest.slice(end + 4, end + 4 + length), head });
        rest = rest.slice(end + 4 + length);
      }
      return out;
    };
    socket.on('data', (d: Buffer) => {
      data += d.toString();
      const out = parse();
      if (out.length >= expected) { socket.destroy(); resolve(out); }
    });
    socket.on('error', reject);
    // Closed by the server before every answer came: what did come.
    socket.on('close', () => resolve(parse()));
    socket.write(raw);
  });
}

export function rawPost(body: string, path = '/deduct'): string {
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
