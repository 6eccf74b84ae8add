/**
 * A stand-in for the socket of the hot-path RESP client (`DeductClientOptions.openSocket`), for
 * the parser's unit tests: the test hands the client reply bytes split exactly where it wants (a
 * TCP peer cannot promise chunk boundaries: the kernel may join two writes). It answers the
 * connection setup (PING, AUTH, SELECT) like a server would and keeps every other command for the
 * test to read. Redis behaviour itself is tested against a real redis-server, never here.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

export class FakeSocket extends EventEmitter {
  /** Every buffer the client wrote, as written (the client never touches a written region again). */
  readonly written: Buffer[] = [];
  destroyed = false;
  /** Commands other than the setup ones, in order. */
  readonly commands: string[][] = [];
  private readBuffer = Buffer.alloc(0);

  constructor(private readonly setupReply: (command: string[]) => SetupReply | undefined) {
    super();
    setImmediate(() => { if (!this.destroyed) this.emit('connect'); });
  }

  setNoDelay(): this {
    return this;
  }

  write(bytes: Buffer): boolean {
    if (this.destroyed) return false;
    this.written.push(bytes);
    this.readBuffer = Buffer.concat([this.readBuffer, bytes]);
    for (;;) {
      const parsed = parseCommand(this.readBuffer);
      if (parsed === undefined) break;
      this.readBuffer = this.readBuffer.subarray(parsed.end);
      const answer = this.setupReply(parsed.command);
      if (answer === undefined) {
        this.commands.push(parsed.command);
        continue;
      }
      const { reply, thenClose } = typeof answer === 'string' ? { reply: answer, thenClose: false } : answer;
      // Answered on the next turn of the event loop, as a socket would: never inside write().
      setImmediate(() => {
        if (this.destroyed) return;
        this.emit('data', Buffer.from(reply, 'latin1'));
        if (thenClose) this.peerClose();
      });
    }
    return true;
  }

  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      process.nextTick(() => this.emit('close', false));
    }
    return this;
  }

  /** The server closes the connection. */
  peerClose(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close', false);
  }

  /** Hands the client one chunk, synchronously (as one 'data' event). */
  deliver(chunk: Buffer | string): void {
    if (this.destroyed) throw new Error('delivering to a socket the client destroyed');
    this.emit('data', typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
  }

  asSocket(): Socket {
    return this as unknown as Socket;
  }
}

/** Bytes answering a setup command, optionally followed by the server closing the connection. */
export type SetupReply = string | { reply: string; thenClose: true };

/** The usual answers to the connection setup; anything else is left to the test. */
export function standardSetup(command: string[]): string | undefined {
  const name = command[0]?.toUpperCase();
  if (name === 'PING') return '+PONG\r\n';
  if (name === 'AUTH' || name === 'SELECT') return '+OK\r\n';
  return undefined;
}

/** One RESP command (an array of bulk strings) at the start of buf, or undefined when cut off. */
export function parseCommand(buf: Buffer): { command: string[]; end: number } | undefined {
  const line = (from: number): { text: string; next: number } | undefined => {
    const cr = buf.indexOf('\r\n', from, 'latin1');
    return cr < 0 ? undefined : { text: buf.toString('latin1', from, cr), next: cr + 2 };
  };
  const head = line(0);
  if (head === undefined) return undefined;
  if (!head.text.startsWith('*')) throw new Error(`not a RESP command: ${JSON.stringify(head.text)}`);
  const n = Number(head.text.slice(1));
  const command: string[] = [];
  let p = head.next;
  for (let i = 0; i < n; i++) {
    const len = line(p);
    if (len === undefined) return undefined;
    if (!len.text.startsWith('$')) throw new Error(`not a bulk string argument: ${JSON.stringify(len.text)}`);
    const size = Number(len.text.slice(1));
    if (len.next + size + 2 > buf.length) return undefined;
    command.push(buf.toString('utf8', len.next, len.next + size));
    p = len.next + size + 2;
  }
  return { command, end: p };
}

/** Every command in a byte stream. */
export function parseCommands(bytes: Buffer): string[][] {
  const out: string[][] = [];
  let rest = bytes;
  for (;;) {
    const parsed = parseCommand(rest);
    if (parsed === undefined) break;
    out.push(parsed.command);
    rest = rest.subarray(parsed.end);
  }
  if (rest.length > 0) throw new Error(`${rest.length} bytes of a cut-off command`);
  return out;
}
