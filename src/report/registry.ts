/** Every report output by name; `sellout run` writes them all, `sellout report` re-renders some. */
import { hgrmOutput } from './hgrm.js';
import { hlogOutput } from './hlog.js';
import { htmlOutput } from './html.js';
import { summaryJson } from './json.js';
import { junitOutput } from './junit.js';
import { markdownOutput } from './markdown.js';
import { skusCsvOutput } from './skus-csv.js';
import type { ReportFile, ReportInput, ReportOutput } from './output.js';

export const OUTPUTS = {
  summary: summaryJson,
  hgrm: hgrmOutput,
  hlog: hlogOutput,
  html: htmlOutput,
  md: markdownOutput,
  junit: junitOutput,
  skus: skusCsvOutput,
} as const satisfies Record<string, ReportOutput>;

export type OutputName = keyof typeof OUTPUTS;
export const ALL_OUTPUTS = Object.keys(OUTPUTS) as OutputName[];
/** What `sellout report <dir>` re-renders: the views, not the data files they are rendered from. */
export const VIEW_OUTPUTS: OutputName[] = ['html', 'md', 'junit'];

export function renderOutputs(input: ReportInput, names: readonly OutputName[] = ALL_OUTPUTS): ReportFile[] {
  return names.flatMap((name) => OUTPUTS[name].render(input));
}
