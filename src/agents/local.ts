/**
 * `sellout run <scenario> --agents N`: a distributed run on this machine, for trying it and for
 * tests: prepare, N `sellout agent` processes (real processes, as on N machines), and collect,
 * against the --redis server or a private redis-server started for the run. The agents get the
 * URL in their environment, never on their command line (where `ps` would show a password).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { newRunId } from '../keys.js';
import { UsageError } from '../errors.js';
import { startEmbedded } from '../redis/embedded.js';
import { startLocalCluster } from '../redis/local-cluster.js';
import { PROJECT_ROOT, type Scenario } from '../scenario/load.js';
import type { RunOptions, RunOutput } from '../run.js';
import { collectRun } from './collect.js';
import { prepareRun } from './prepare.js';

export interface LocalAgentsOptions extends Omit<RunOptions, 'distributed' | 'tlsCa'> {
  readonly agents: number;
  /** --tls-ca as given: the file (for the agents' command line) and its text. */
  readonly tlsCa?: { readonly file: string; readonly pem: string } | undefined;
  /** How the scenario file is shown in messages. */
  readonly shown: string;
  /** Each line an agent prints on stderr, prefixed with its segment. */
  readonly onAgentLine?: (line: string) => void;
}

/** How long collect waits for the local agents (they are started together: the barrier is quick). */
const LOCAL_WAIT_MS = 24 * 60 * 60 * 1000;

export async function runWithAgents(scenario: Scenario, options: LocalAgentsOptions): Promise<RunOutput> {
  if (options.redis === 'docker') throw new UsageError('--agents: expected --redis URL, cluster or nothing (a private redis-server), got docker: the agents need a server they can all reach');
  let stop: () => Promise<void> = async () => {};
  let url: string;
  if (options.redis === undefined) {
    const server = await startEmbedded({ persistence: scenario.persistence, replicas: 0 });
    stop = server.stop;
    url = `redis://${server.host}:${server.port}`;
  } else if (options.redis === 'cluster') {
    const cluster = await startLocalCluster({ shards: scenario.cluster?.shards ?? 3 });
    stop = cluster.stop;
    url = `redis://${cluster.nodes[0]!.host}:${cluster.nodes[0]!.port}`;
  } else {
    url = options.redis;
  }
  const children: ChildProcess[] = [];
  try {
    const runId = newRunId();
    await prepareRun(scenario, options.shown, { redis: url, tlsCa: options.tlsCa?.pem, agents: options.agents, runId });
    const exits: Promise<void>[] = [];
    for (let segment = 0; segment < options.agents; segment++) {
      const child = spawn(process.execPath, [
        join(PROJECT_ROOT, 'bin', 'sellout.js'),
        'agent', '--run-id', runId, '--segment', `${segment}/${options.agents}`, '--wait', '1m',
        ...(options.tlsCa !== undefined ? ['--tls-ca', options.tlsCa.file] : []),
      ], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SELLOUT_REDIS_URL: url, REDIS_URL: undefined } });
      children.push(child);
      let rest = '';
      child.stderr!.setEncoding('utf8').on('data', (text: string) => {
        const lines = (rest + text).split('\n');
        rest = lines.pop()!;
        for (const line of lines) {
          const text = line.replace(/^sellout( agent)?: /, '');
          if (text.trim() !== '') options.onAgentLine?.(/^(agent|segment) \d+\//.test(text) ? text : `agent ${segment}/${options.agents}: ${text}`);
        }
      });
      exits.push(new Promise((resolve) => child.once('close', () => resolve())));
    }
    // An agent that fails before the start keeps the others at the barrier until theirs times out:
    // once every agent process has exited, collect stops waiting.
    const gone = new AbortController();
    void Promise.all(exits).then(() => gone.abort());
    const output = await collectRun({ ...options, redis: url, tlsCa: options.tlsCa?.pem, runId, waitMs: LOCAL_WAIT_MS, agentsGone: gone.signal });
    await Promise.all(exits);
    // Started by sellout for this run, whatever the agents saw.
    return options.redis === undefined || options.redis === 'cluster'
      ? { ...output, summary: { ...output.summary, target: { ...output.summary.target, kind: 'embedded' } } }
      : output;
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stop();
  }
}
