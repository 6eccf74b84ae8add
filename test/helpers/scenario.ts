/** Scenarios parsed from text as if from `<dir>/test.yaml`, and the problems a bad one reports. */
import { join } from 'node:path';
import { ScenarioError } from '../../src/errors.js';
import { parseOverride, parseScenario, type Scenario } from '../../src/scenario/load.js';

export function scenarioParser(dir: string): {
  parse: (yaml: string, overrides?: string[]) => Scenario;
  problems: (yaml: string, overrides?: string[]) => string[];
} {
  const parse = (yaml: string, overrides: string[] = []) => parseScenario(yaml, join(dir, 'test.yaml'), { cwd: dir, overrides: overrides.map(parseOverride) });
  const problems = (yaml: string, overrides: string[] = []): string[] => {
    try {
      parse(yaml, overrides);
    } catch (err) {
      if (err instanceof ScenarioError) return [...err.problems];
      throw err;
    }
    throw new Error('expected a ScenarioError');
  };
  return { parse, problems };
}
