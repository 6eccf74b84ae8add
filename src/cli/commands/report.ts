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
  const hlog = existsSync(hlogPath) ? readHlog(readFileSync(hlogPath, 'utf8')) : { intervals: [], histograms: {} };
  if (!existsSync(hlogPath)) io.stderr(`sellout: ${relative(process.cwd(), hlogPath) || hlogPath} missing: report.html will have no latency spectrum\n`);
  const files = renderOutputs({ summary, histograms: hlog.histograms, intervals: hlog.intervals }, VIEW_OUTPUTS);
  writeFiles(dir, files);
  io.stdout(`sellout report: wrote ${files.map((f) => f.name).join(', ')} in ${relative(process.cwd(), dir) || '.'}\n`);
  return ExitCode.ok;
}
