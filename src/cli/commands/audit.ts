/**
 * `sellout audit [--script PATH] [--redis URL] [--tls-ca FILE] [--out DIR]`: feeds the script one bad input at a
 * time on fresh keys, prints the table, writes audit.json and audit.md. Exit 1 when a case is
 * unsafe, 0 when every case is safe, 2 bad usage (a script file that cannot be read), 3 target
 * problems, 130 interrupted (the cases that ran are still reported).
 */
import { isAbsolute, relative } from 'node:path';
import { auditKeyPattern, runAudit } from '../../audit/audit.js';
import { auditReport, formatAuditTable, renderAuditJson, renderAuditMarkdown } from '../../audit/report.js';
import { TargetError, UsageError } from '../../errors.js';
import { newRunId } from '../../keys.js';
import { openTarget } from '../../redis/index.js';
import { scriptSha } from '../../redis/script.js';
import { chooseRedis } from '../../redis/url.js';
import { didYouMean } from '../../scenario/faults.js';
import { BUILTIN_SCRIPTS, formatBytes, MAX_SCRIPT_BYTES, readCapped, resolveScript } from '../../scenario/load.js';
import { SELLOUT_VERSION } from '../../version.js';
import { defaultReportDir, discardReportDir, prepareReportDir, writeReport } from '../output.js';
import { readTlsCa } from './run.js';

export interface AuditCommandOptions {
  script?: string;
  redis?: string;
  /** --tls-ca: PEM file of the CA that signed a rediss:// server's certificate (as for run). */
  tlsCa?: string;
  out?: string;
}

export interface AuditIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Aborted on Ctrl-C: the case running finishes, the keys are deleted, what ran is reported (exit 130). */
  signal?: AbortSignal;
  /** Told the glob of the audit's keys before any is written (for a last-resort message). */
  onKeys?: (pattern: string) => void;
  env?: Readonly<Record<string, string | undefined>>;
}

/** The script a bare `sellout audit` checks: sellout's own, by its explicit name. */
export const DEFAULT_AUDIT_SCRIPT = 'builtin:deduct';

/**
 * Relative to the current directory or absolute, never to sellout's own directory: a bundled script
 * must not read like the team's lua/deduct.lua.
 */
function displayPath(absolute: string): string {
  const rel = relative(process.cwd(), absolute);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : absolute;
}

/**
 * The script's text, checked before anything starts: each problem one line, exit 2. As `run
 * --script`: a builtin: name, or a path relative to the current directory only (never a file of
 * the same name somewhere else, such as sellout's own).
 */
export function readAuditScript(script: string): { path: string; source: string } {
  const path = resolveScript(script, process.cwd());
  if (typeof path !== 'string') {
    throw new UsageError(
      path.tried === undefined
        ? `--script ${script}: expected one of ${Object.keys(BUILTIN_SCRIPTS).join(', ')} or a Lua file, got ${JSON.stringify(script)}${didYouMean(script, Object.keys(BUILTIN_SCRIPTS))}`
        : `--script ${script}: expected a readable Lua file${isAbsolute(script) ? '' : ' relative to the current directory'}, got ${JSON.stringify(script)} (tried ${path.tried}: ${path.reason})`,
    );
  }
  let read: ReturnType<typeof readCapped>;
  try {
    read = readCapped(path, MAX_SCRIPT_BYTES);
  } catch (err) {
    throw new UsageError(`--script ${script}: expected a readable Lua file, got ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!('text' in read)) throw new UsageError(`--script ${script}: expected a Lua file of at most ${formatBytes(MAX_SCRIPT_BYTES)}, got ${read.size === undefined ? 'more' : formatBytes(read.size)}`);
  return { path: displayPath(path), source: read.text };
}

export async function auditCommand(options: AuditCommandOptions, io: AuditIO): Promise<number> {
  const script = readAuditScript(options.script ?? DEFAULT_AUDIT_SCRIPT);
  const redis = chooseRedis(options.redis, io.env ?? process.env);
  const tlsCa = options.tlsCa !== undefined ? readTlsCa(options.tlsCa, redis.redis) : undefined;
  const out = prepareReportDir(options.out ?? defaultReportDir('audit'));
  const id = newRunId();
  const startedAt = new Date();
  let run: Awaited<ReturnType<typeof runAudit>>;
  let target: Awaited<ReturnType<typeof openTarget>> | undefined;
  try {
    target = await openTarget({ redis: redis.redis, ...(tlsCa !== undefined ? { tlsCa } : {}) });
    io.onKeys?.(auditKeyPattern(id));
    io.stderr(`sellout: audit ${id} of ${script.path} on ${target.info.url} (${target.info.kind}${target.topology.cluster ? `, a cluster of ${target.topology.shards.length} primaries` : ''})\n`);
    run = await runAudit(target, script, { auditId: id, ...(io.signal ? { signal: io.signal } : {}) });
  } catch (err) {
    discardReportDir(out);
    // A refused password that came from the environment: say which variable held it.
    if (err instanceof TargetError && redis.origin !== undefined) throw new TargetError(`${err.message} (${redis.origin})`, err.hint);
    throw err;
  } finally {
    await target?.close();
  }
  const report = auditReport(run, {
    id,
    startedAt,
    finishedAt: new Date(),
    selloutVersion: SELLOUT_VERSION,
    script: { path: script.path, sha1: scriptSha(script.source) },
    target: { ...target!.info, ...(redis.origin !== undefined ? { origin: redis.origin } : {}) },
  });
  let writeError: string | undefined;
  try {
    writeReport(out.dir, [{ name: 'audit.json', content: renderAuditJson(report) }, { name: 'audit.md', content: renderAuditMarkdown(report) }], { runId: id });
  } catch (err) {
    writeError = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
  const shown = relative(process.cwd(), out.dir) || '.';
  io.stdout(`${formatAuditTable(report, shown.startsWith('..') ? out.dir : shown)}\n`);
  if (writeError !== undefined) {
    io.stderr(`sellout: could not write audit.json and audit.md to ${out.dir} (${writeError}); the table above is all that is left of this audit\n`);
    return report.exitCode === 0 ? 2 : report.exitCode;
  }
  return report.exitCode;
}
