/** summary.json: the machine-readable result (schema in summary.ts, versioned). */
import type { ReportOutput } from './output.js';

export const summaryJson: ReportOutput = {
  name: 'summary',
  description: 'summary.json: every figure, invariant and threshold result (versioned schema)',
  render: ({ summary }) => [{ name: 'summary.json', content: `${JSON.stringify(summary, null, 2)}\n` }],
};
