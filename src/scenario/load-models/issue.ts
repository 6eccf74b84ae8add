/** What a load model's option check returns: every problem at once, each where, what was expected and what was found. */
import type { ScenarioConfig } from '../schema.js';

/** One validation problem of a load model: where, what was expected, and what was found. */
export interface LoadIssue {
  readonly path: (string | number)[];
  readonly message: string;
  readonly input: unknown;
}

export type LoadConfig = ScenarioConfig['load'];
