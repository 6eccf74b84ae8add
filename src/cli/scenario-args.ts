/**
 * The scenario a command line names: the file, its `--set` overrides and `--script`, loaded and
 * validated by loadScenario. `run` and `validate` both load through here, so a scenario that
 * validates is exactly the one `run` would run, and the two can never disagree about a problem.
 */
import { loadScenario, parseOverride, type Scenario } from '../scenario/load.js';

export interface ScenarioArgs {
  /** `--set path=value`, in order (later ones win). */
  set: readonly string[];
  /**
   * `--script PATH`: shorthand for `--set script=PATH`, applied after every --set. Either form is
   * relative to the current directory (where it was typed); `script:` in the file, to the file.
   */
  script?: string;
}

export function loadScenarioFromArgs(file: string, options: ScenarioArgs): Scenario {
  const overrides = options.set.map(parseOverride);
  if (options.script !== undefined) overrides.push({ ...parseOverride(`script=${JSON.stringify(options.script)}`), flag: '--script' });
  return loadScenario(file, { overrides });
}
