/**
 * `sellout report <dir>`: re-renders report.html, summary.md and junit.xml from the directory's
 * summary.json and latency.hlog (whose intervals add up, exactly, to the whole-run histograms).
 * Exit 0 when rendered: the run's verdict is in what it renders, not in this command's exit code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readHlog } from '../../report/hlog.js';
import { renderOutputs, VIEW_OUTPUTS } from '../../report/registry.js';
import { ExitCode } from '../../errors.js';
import { writeFiles } from '../output.js';
import { readSummary } from '../read-summary.js';

export function reportCommand(dir: string, io: { stdout: (t: string) => void; stderr: (t: string) => void }): number {
  const summary = readSummary(join(dir, 'summary.json'));
  const hlogPath = join(dir, 'latency.hlog');
  const shownHlog = relative(process.cwd(), hlogPath) || hlogPath;
  let hlog: ReturnType<typeof readHlog> = { intervals: [], histograms: {} };
  if (!existsSync(hlogPath)) {
    io.stderr(`sellout: ${shownHlog} missing: report.html will have no latency spectrum\n`);
  } else {
    try {
      hlog = readHlog(readFileSync(hlogPath, 'utf8'));
    } catch (err) {
      // A truncated or edited log loses the spectrum, not the whole report.
      io.stderr(`sellout: ${shownHlog}: expected an HdrHistogram interval log, got ${(err as Error).message.split('\n')[0]}: report.html will have no latency spectrum\n`);
    }
  }
  const files = renderOutputs({ summary, histograms: hlog.histograms, intervals: hlog.intervals }, VIEW_OUTPUTS);
  writeFiles(dir, files);
  const rel = relative(process.cwd(), dir) || '.';
  io.stdout(`sellout report: wrote ${files.map((f) => f.name).join(', ')} in ${rel.startsWith('..') ? dir : rel}\n`);
  return ExitCode.ok;
}
