/**
 * The CLI entry: parses argv, runs a command, and is the only place that calls process.exit.
 * A SelloutError (a user's mistake or an unreachable target) prints one line and its exit code;
 * anything else is a bug and prints its stack.
 */
import { Command, CommanderError } from 'commander';
import { ExitCode, ScenarioError, SelloutError } from '../errors.js';
import { redactUrl } from '../redis/url.js';
import { SELLOUT_VERSION } from '../version.js';
import { agentCommand, collectCommand, prepareCommand } from './commands/agents.js';
import { auditCommand } from './commands/audit.js';
import { capacityCommand } from './commands/capacity.js';
import { compareCommand } from './commands/compare.js';
import { reportCommand } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { SERVE_HELP, serveCommand } from './commands/serve.js';
import { validateCommand } from './commands/validate.js';


const stdout = (text: string) => { process.stdout.write(text); };
const stderr = (text: string) => { process.stderr.write(text); };

/**
 * Ctrl-C and SIGTERM: the first stops the load (what ran is still verified and reported, exit
 * 130); another skips what is left of the verification but still removes the run's keys and
 * writes the report; a third quits at once. A terminal or a `timeout` wrapper may deliver one
 * interrupt twice within milliseconds (to the process and to its group): a repeat within half a
 * second is the same interrupt.
 */
function interruptControllers(runKeys: () => string | undefined): { signal: AbortSignal; hardSignal: AbortSignal } {
  const [signal, hardSignal] = onInterrupts([
    (name) => `\nsellout: ${interrupted(name)}, stopping the load and verifying what ran (interrupt again to skip verification)\n`,
    () => '\nsellout: interrupted again: skipping verification, removing the run\'s keys and writing the report (once more to quit at once)\n',
  ], runKeys);
  return { signal: signal!, hardSignal: hardSignal! };
}

/**
 * Ctrl-C and SIGTERM during an audit: the first lets the case running finish, then the audit's
 * keys are deleted and the cases that ran are reported (exit 130); another quits at once, naming
 * the keys that may be left.
 */
function auditInterrupts(keys: () => string | undefined): AbortSignal {
  return onInterrupts([
    (name) => `\nsellout: ${interrupted(name)}, stopping after this case, removing the audit's keys and reporting what ran (interrupt again to quit at once)\n`,
  ], keys)[0]!;
}

function interrupted(name: NodeJS.Signals): string {
  return name === 'SIGINT' ? 'interrupted' : `got ${name}`;
}

/**
 * Each interrupt (SIGINT or SIGTERM) aborts the next stage's signal, saying what happens now; one
 * more than there are stages quits at once, naming the keys that may be left. A repeat within
 * half a second is the same interrupt.
 */
function onInterrupts(stages: readonly ((name: NodeJS.Signals) => string)[], keys: () => string | undefined): AbortSignal[] {
  const controllers = stages.map(() => new AbortController());
  let lastAt = 0;
  let next = 0;
  const onSignal = (name: NodeJS.Signals) => {
    const now = Date.now();
    if (now - lastAt < 500) return;
    lastAt = now;
    if (next < stages.length) {
      stderr(stages[next]!(name));
      controllers[next++]!.abort();
      return;
    }
    const pattern = keys();
    stderr(`\nsellout: quitting now${pattern ? `; keys ${pattern} may be left in Redis` : ''}\n`);
    process.exit(ExitCode.interrupted);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controllers.map((c) => c.signal);
}

/** What `sellout --help` adds after the commands: the exit codes a gate reads, and where to start. */
const PROGRAM_HELP = `
Exit codes (the most serious wins):
  0    every invariant and threshold passed
  1    an invariant failed (oversold, a deduction lost or applied twice)
  2    bad usage or scenario: the line printed says file, field, expected, found
  3    the target failed the run (Redis unavailable, refusing, lost the keys), or an agent of a distributed run was lost
  4    a threshold failed, or compare found a regression
  130  interrupted (Ctrl-C / SIGTERM): what ran is still verified and reported
  70   a load worker crashed (a bug in sellout)

Examples:
  sellout run scenarios/smoke.yaml                      a sale on a private redis-server
  sellout run sale.yaml --redis redis://cache:6379      against your Redis (password: SELLOUT_REDIS_PASSWORD)
  sellout run sale.yaml --redis cluster                 on an embedded 3-primary Redis Cluster
  sellout capacity sale.yaml --target-rate 60000        the highest rate under an SLO, and the shards a peak needs
  sellout run sale.yaml --agents 3                      the load split over 3 agent processes, one verdict
  sellout prepare / agent / collect                     the same over machines or Kubernetes pods (docs/distributed.md)
  sellout audit --script lua/stock.lua                  feed your script bad inputs, one at a time
  sellout compare reports/A reports/B                   exit 4 on a regression

Docs: README.md (scenario keys, faults, cluster), docs/ci-gate.md (thresholds, CI), docs/summary.md, docs/capacity.md, docs/distributed.md.
`;

/** What `sellout run --help` adds: the scenario's keys at a glance (README "Scenarios" has them all). */
const RUN_HELP = `
Scenario keys (YAML; README "Scenarios"):
  name, description, script          required: the Lua script, relative to the scenario file (only), or builtin:deduct
  skus: {count, stock, selection}    selection: uniform | zipf | hot
  quantity                           1, or weights like {1: 0.8, 2: 0.2}
  requests | duration                exactly one: a count, or like 30s
  load: {model, connections, inFlight, workers, rate, startRate, stages, maxInFlight}
                                     model: closed | constant-rate | ramping-rate
  duplicates: {ratio, pattern, delayMs}  pattern: sequential | concurrent | delayed | cross-worker | cross-agent
  keys: {stock, journal}             key templates with <run> and <sku>
  faults, persistence, replicas      timed faults: kill, pause, client-pause, script-flush, client-kill, failover
  thresholds                         like {latency.ok.p99: "< 5ms", outcomes.error: "== 0"}
  http: {url, method, headers, body, outcomes, stockField}   load a sale service over HTTP (README "HTTP mode")
  seed, timeoutMs, maxRecords, preflight, cluster

Examples:
  sellout run scenarios/smoke.yaml --set load.connections=16 --set duration=30s --set requests=
  sellout run scenarios/crash-restart.yaml --set persistence=aof-everysec
`;

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('sellout')
    .description('Load-test a flash-sale stock deduction script on Redis and prove it neither oversells nor double-deducts.')
    .version(SELLOUT_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: stdout, writeErr: (text) => stderr(text.startsWith('error:') ? `sellout: ${text}` : text) })
    .showHelpAfterError('(run `sellout --help` for usage)')
    .addHelpText('after', PROGRAM_HELP);

  program
    .command('run')
    .description('run a scenario against Redis, verify the invariants and write a report')
    .argument('<scenario>', 'scenario YAML file')
    .option('--redis <url|docker|cluster>', 'redis://[user@]host:port[/db], rediss://…, "docker", or "cluster" (an embedded Redis Cluster of cluster.shards primaries) (default: SELLOUT_REDIS_URL or REDIS_URL if set, else a private redis-server from PATH; a password can come from SELLOUT_REDIS_PASSWORD)')
    .option('--tls-ca <file>', 'PEM file of the CA that signed the server\'s certificate, for a rediss:// server with a private CA')
    .option('--script <path>', 'Lua script to run, relative to the current directory, or builtin:deduct (shorthand for --set script=PATH)')
    .option('--set <path=value>', 'override a scenario key, value parsed as YAML (repeatable; faults.0.mode=unsafe indexes a list)', (value: string, acc: string[] | undefined) => [...(acc ?? []), value])
    .option('--out <dir>', 'report directory (default: reports/<UTC time>-<name>/)')
    .option('--keep', 'keep the run\'s keys in Redis afterwards')
    .option('--quiet', 'print only the summary')
    .option('--no-thresholds', 'do not evaluate the scenario\'s thresholds (exit 4 never happens)')
    .option('--repeat <n>', 'run the scenario n times on fresh keys (reports in run-<i>/) and gate on the median of each thresholded figure, with the spread; every run\'s invariants must hold')
    .option('--agents <n>', 'split the load over n agent processes on this machine (prepare, n x agent, collect: docs/distributed.md), one merged verdict')
    .addHelpText('after', RUN_HELP)
    .action(async (file: string, options: { redis?: string; tlsCa?: string; script?: string; set?: string[]; out?: string; keep?: boolean; quiet?: boolean; thresholds?: boolean; repeat?: string; agents?: string }) => {
      let runKeys: string | undefined;
      const { signal, hardSignal } = interruptControllers(() => runKeys);
      const { repeat, agents, ...rest } = options;
      setExit(await runCommand(file, {
        ...rest,
        set: options.set ?? [],
        ...(repeat !== undefined ? { repeat: Number(repeat), repeatText: repeat } : {}),
        ...(agents !== undefined ? { agents: /^\s*\d+\s*$/.test(agents) ? Number(agents) : NaN, agentsText: agents } : {}),
      }, {
        stdout,
        stderr,
        signal,
        hardSignal,
        onRunId: (_id, pattern) => { runKeys = pattern; },
        stderrIsTTY: process.stderr.isTTY === true,
        stderrColumns: process.stderr.columns || 120,
      }));
    });

  program
    .command('prepare')
    .description('a distributed run, step 1: seed the stock, load the script and store the run manifest in Redis for --agents agents; prints the run ID (docs/distributed.md)')
    .argument('<scenario>', 'scenario YAML file')
    .option('--redis <url>', 'redis://[user@]host:port[/db] or rediss://… every agent can reach (default: SELLOUT_REDIS_URL or REDIS_URL; a password can come from SELLOUT_REDIS_PASSWORD)')
    .option('--tls-ca <file>', 'PEM file of the CA that signed the server\'s certificate, for a rediss:// server with a private CA')
    .option('--agents <n>', 'how many agents will run the load (default 1)')
    .option('--run-id <id>', 'the run ID (lowercase letters, digits, dashes; default: a new one like 20261127t210000-a1b2c3)')
    .option('--script <path>', 'Lua script, relative to the current directory, or builtin:deduct (shorthand for --set script=PATH)')
    .option('--set <path=value>', 'override a scenario key, value parsed as YAML (repeatable)', (value: string, acc: string[]) => [...acc, value], [] as string[])
    .action(async (file: string, options: { redis?: string; tlsCa?: string; agents?: string; runId?: string; script?: string; set: string[] }) => {
      setExit(await prepareCommand(file, options, { stdout, stderr }));
    });

  program
    .command('agent')
    .description('a distributed run, step 2: run plan segment I of N of a prepared run from the one start all agents share, and store the result in Redis for collect; exit 0 once stored')
    .option('--redis <url>', 'the server the run was prepared on (default: SELLOUT_REDIS_URL or REDIS_URL; a password can come from SELLOUT_REDIS_PASSWORD)')
    .option('--tls-ca <file>', 'PEM file of the CA that signed the server\'s certificate, for a rediss:// server with a private CA')
    .option('--run-id <id>', 'the run ID prepare printed')
    .option('--segment <i/n>', 'this agent\'s segment, like 0/3 (default: JOB_COMPLETION_INDEX of a Kubernetes Indexed Job, N from the manifest)')
    .option('--host <name>', 'this agent\'s name in the report (default: the host name)')
    .option('--wait <duration>', 'how long to wait for the other agents at the start (default 10m)')
    .option('--quiet', 'print only the result line')
    .action(async (options: { redis?: string; tlsCa?: string; runId?: string; segment?: string; host?: string; wait?: string; quiet?: boolean }) => {
      const [signal] = onInterrupts([
        (name) => `\nsellout agent: ${interrupted(name)}, stopping the load and storing what was measured for collect (interrupt again to quit at once)\n`,
      ], () => undefined);
      setExit(await agentCommand(options, { stdout, stderr, signal: signal! }));
    });

  program
    .command('collect')
    .description('a distributed run, step 3: wait for every agent\'s result, merge them exactly, verify once against Redis, evaluate the thresholds once, write one report, remove the run\'s keys; exits like run (3: an agent was lost)')
    .option('--redis <url>', 'the server the run was prepared on (default: SELLOUT_REDIS_URL or REDIS_URL; a password can come from SELLOUT_REDIS_PASSWORD)')
    .option('--tls-ca <file>', 'PEM file of the CA that signed the server\'s certificate, for a rediss:// server with a private CA')
    .option('--run-id <id>', 'the run ID prepare printed')
    .option('--out <dir>', 'report directory (default: reports/<UTC time>-<name>/)')
    .option('--wait <duration>', 'how long to wait for the agents\' results (default 10m); an agent whose heartbeat stops is lost sooner')
    .option('--keep', 'keep the run\'s keys in Redis afterwards')
    .option('--quiet', 'print only the summary')
    .option('--no-thresholds', 'do not evaluate the scenario\'s thresholds')
    .action(async (options: { redis?: string; tlsCa?: string; runId?: string; out?: string; wait?: string; keep?: boolean; quiet?: boolean; thresholds?: boolean }) => {
      let runKeys: string | undefined;
      const { signal, hardSignal } = interruptControllers(() => runKeys);
      setExit(await collectCommand(options, { stdout, stderr, signal, hardSignal, onRunId: (_id, pattern) => { runKeys = pattern; } }));
    });

  program
    .command('capacity')
    .description('find the highest rate the target holds under an SLO (constant-rate steps on fresh keys, each judged like a run), where the time goes, what the journal costs and how many shards a peak needs; writes capacity.json, capacity.md, capacity.html')
    .argument('<scenario>', 'scenario YAML file (its SKUs, quantities, duplicates and script; its load and thresholds are replaced by each step)')
    .option('--slo <expr>', 'a condition every step must hold, threshold syntax (repeatable; default "latency.ok.p99 < 5ms")', (value: string, acc: string[]) => [...acc, value], [] as string[])
    .option('--target-rate <n>', 'the expected peak, deductions/s: how many shards it needs (exit 4 when no sensible shard count reaches it)')
    .option('--orders <n>', 'journal entries to project the memory for (default: the scenario\'s requests)')
    .option('--step <duration>', 'time at each rate (default 10s; a confirmation runs twice as long)')
    .option('--budget <duration>', 'the whole search (default 5m); when it runs out, the answer is the best confirmed rate, with a note')
    .option('--headroom <share>', 'plan each shard at this share of its measured maximum (default 0.7)')
    .option('--redis <url|cluster>', 'redis://[user@]host:port[/db], rediss://…, or "cluster" (an embedded Redis Cluster); default: SELLOUT_REDIS_URL or REDIS_URL if set, else a private redis-server from PATH')
    .option('--tls-ca <file>', 'PEM file of the CA that signed the server\'s certificate, for a rediss:// server with a private CA')
    .option('--script <path>', 'Lua script, relative to the current directory, or builtin:deduct (shorthand for --set script=PATH)')
    .option('--set <path=value>', 'override a scenario key, value parsed as YAML (repeatable)', (value: string, acc: string[]) => [...acc, value], [] as string[])
    .option('--out <dir>', 'report directory (default: reports/<UTC time>-<name>-capacity/)')
    .option('--quiet', 'print only the answer')
    .action(async (file: string, options: { slo: string[]; targetRate?: string; orders?: string; step?: string; budget?: string; headroom?: string; redis?: string; tlsCa?: string; script?: string; set: string[]; out?: string; quiet?: boolean }) => {
      const [signal] = onInterrupts([
        (name) => `\nsellout: ${interrupted(name)}, stopping the capacity search and writing what was measured (interrupt again to quit at once)\n`,
      ], () => undefined);
      setExit(await capacityCommand(file, options, { stdout, stderr, signal: signal! }));
    });

  program
    .command('validate')
    .description('check a scenario (and that its script is there and readable) exactly as `run` loads it, without Redis and without writing anything: exit 0 with one line, or every problem and exit 2')
    .argument('<scenario>', 'scenario YAML file')
    .option('--script <path>', 'Lua script to check, relative to the current directory, or builtin:deduct (shorthand for --set script=PATH)')
    .option('--set <path=value>', 'override a scenario key, value parsed as YAML (repeatable)', (value: string, acc: string[]) => [...acc, value], [] as string[])
    .action((file: string, options: { script?: string; set: string[] }) => {
      setExit(validateCommand(file, options, { stdout }));
    });

  program
    .command('audit')
    .description('feed a deduction script one bad input at a time on fresh keys and say, case by case, whether it left state it should not have; exit 1 when a case is unsafe')
    .option('--script <path>', 'Lua script to audit, relative to the current directory, or builtin:deduct / builtin:seed-deduct (default: builtin:deduct, sellout\'s own)')
    .option('--redis <url|docker|cluster>', 'redis://[user@]host:port[/db], rediss://…, "docker", or "cluster" (default: SELLOUT_REDIS_URL or REDIS_URL if set, else a private redis-server from PATH; a password can come from SELLOUT_REDIS_PASSWORD)')
    .option('--tls-ca <file>', 'PEM file of the CA that signed the server\'s certificate, for a rediss:// server with a private CA')
    .option('--out <dir>', 'directory for audit.json and audit.md (default: reports/<UTC time>-audit/)')
    .action(async (options: { script?: string; redis?: string; tlsCa?: string; out?: string }) => {
      let keys: string | undefined;
      const signal = auditInterrupts(() => keys);
      setExit(await auditCommand(options, { stdout, stderr, signal, onKeys: (pattern) => { keys = pattern; } }));
    });

  program
    .command('serve')
    .description('the reference sale service: POST /deduct runs the script once per request (200 ok, 409 duplicate, 410 sold out, 404 key not found, 400 invalid, 503 Redis unavailable); GET /healthz. It never seeds stock; Ctrl-C/SIGTERM drains the requests in flight and exits 0')
    .option('--redis <url|docker>', 'redis://[user@]host:port[/db], rediss://…, or "docker" (default: SELLOUT_REDIS_URL or REDIS_URL if set, else a private redis-server from PATH, removed on exit; a password can come from SELLOUT_REDIS_PASSWORD)')
    .option('--tls-ca <file>', 'PEM file of the CA that signed the server\'s certificate, for a rediss:// server with a private CA')
    .option('--port <n>', 'port to listen on (default 8080; 0: any free port, printed)')
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .option('--script <path>', 'Lua script, relative to the current directory, or builtin:deduct (default)')
    .option('--keys-stock <template>', 'stock key template with <sku> (and <run>) (default sellout:<run>:inv:{<sku>})')
    .option('--keys-journal <template>', 'journal key template with <sku> (and <run>) (default sellout:<run>:journal:{<sku>})')
    .option('--run-id <id>', 'fills <run> in the templates (required when a template has <run>, as the defaults do)')
    .addHelpText('after', SERVE_HELP)
    .action(async (options: { redis?: string; tlsCa?: string; port?: string; host?: string; script?: string; keysStock?: string; keysJournal?: string; runId?: string }) => {
      const [signal] = onInterrupts([
        (name) => `\nsellout serve: ${interrupted(name)}, no longer accepting; answering the requests in flight, then stopping (interrupt again to quit at once)\n`,
      ], () => undefined);
      setExit(await serveCommand(options, { stdout, stderr, signal: signal! }));
    });

  program
    .command('compare')
    .description('compare two runs of one scenario (summary.json files or report directories); exit 4 on a regression beyond tolerance, 2 when the scenarios differ (unless --allow-different-scenarios)')
    .argument('<baseline>', 'baseline summary.json or report directory')
    .argument('<current>', 'current summary.json or report directory')
    .option('--tolerance <metric=limit,…>', 'how much worse a metric may get, e.g. latency.ok.p99=10%,throughput=5%,outcomes.error=3,latency.ok.max=off (repeatable; defaults in docs/ci-gate.md)', (value: string, acc: string[]) => [...acc, value], [] as string[])
    .option('--allow-different-scenarios', 'compare two runs whose scenarios differ (name, script SHA-1 or any key as run) under a DIFFERENT SCENARIOS header, instead of refusing with exit 2')
    .action((baseline: string, current: string, options: { tolerance: string[]; allowDifferentScenarios?: boolean }) => {
      setExit(compareCommand(baseline, current, options, { stdout, stderr }));
    });

  program
    .command('report')
    .description('re-render report.html, summary.md and junit.xml of a report directory from its summary.json and latency.hlog')
    .argument('<dir>', 'report directory')
    .action((dir: string) => {
      setExit(reportCommand(dir, { stdout, stderr }));
    });
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  let code: number = ExitCode.ok;
  const program = buildProgram((c) => { code = c; });
  try {
    await program.parseAsync(argv as string[]);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; every parse error is a usage error.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (err instanceof ScenarioError) {
      // One line per problem, compiler style (`file: path: expected …, got …`), then the verdict.
      stderr(`${err.problems.map(redactUrl).join('\n')}\n`);
      stderr(`sellout: ${err.problems.length} problem(s) in the scenario; nothing was run\n`);
      return err.exitCode;
    }
    if (err instanceof SelloutError) {
      // One line: what went wrong, then what to do about it.
      stderr(`sellout: ${redactUrl(err.message)}${err.hint ? `; ${redactUrl(err.hint)}` : ''}\n`);
      return err.exitCode;
    }
    stderr(`sellout: internal error (a bug in sellout, please report it):\n${redactUrl((err as Error)?.stack ?? String(err))}\n`);
    return ExitCode.internal;
  }
}

const exitCode = await main(process.argv);
// Flush what we wrote before exiting: process.exit does not wait for piped stdout.
process.stdout.write('', () => process.exit(exitCode));
