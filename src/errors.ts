/**
 * Every failure a user can cause or fix is a SelloutError: it carries the exit code (DESIGN.md §8)
 * and a one-line message naming what was expected and what was found. The CLI prints
 * `sellout: <message>` (plus the hint) and exits with `exitCode`; anything else is a bug and gets a
 * stack trace.
 */
export const ExitCode = {
  ok: 0,
  invariantFailed: 1,
  usage: 2,
  targetUnavailable: 3,
  thresholdFailed: 4,
  /** A crash inside sellout itself (EX_SOFTWARE): a bug, distinct from every verdict. */
  internal: 70,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class SelloutError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  constructor(message: string, exitCode: ExitCode, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

/** Bad command line: unknown flag, malformed --set, missing file. Exit 2. */
export class UsageError extends SelloutError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.usage, hint);
  }
}

/** A scenario file that does not validate; `problems` lists every one, each a full line. Exit 2. */
export class ScenarioError extends SelloutError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'), ExitCode.usage);
    this.problems = problems;
  }
}

/** Redis could not be reached, started or prepared (keys already exist, script rejected). Exit 3. */
export class TargetError extends SelloutError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.targetUnavailable, hint);
  }
}
