/**
 * The keys a distributed run keeps for itself in Redis, beside the sale's: the manifest, the start
 * barrier, heartbeats and the agents' result bundles. All under `sellout:<run>:agents:` with one
 * hash tag, so in a cluster they live in one slot (one node to talk to, on every command), and
 * they are removed by `collect` with the sale's keys.
 */
import { keySlot } from '../redis/slot.js';

/** A run ID as `prepare --run-id` takes it: lowercase letters, digits and dashes (it names keys and a Kubernetes value). */
export const RUN_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export class AgentKeys {
  private readonly base: string;
  constructor(readonly runId: string) {
    this.base = `sellout:${runId}:agents:{sellout-agents-${runId}}`;
  }
  /** The run manifest (JSON): what every agent and collect run. */
  get manifest(): string { return `${this.base}:manifest`; }
  /** A set of the segments that joined the start barrier. */
  get present(): string { return `${this.base}:present`; }
  /** The start, Redis TIME in microseconds, set once by the first agent to see every segment present. */
  get t0(): string { return `${this.base}:t0`; }
  /** A set of the segments whose bundle is stored in full. */
  get stored(): string { return `${this.base}:stored`; }
  /** Segment i's bundle, in chunks 0, 1, … (a Redis string holds at most 512 MB). */
  bundle(segment: number, chunk: number): string { return `${this.base}:bundle:${segment}:${chunk}`; }
  /** Expires unless the agent of segment i keeps refreshing it: collect tells a dead agent from a slow one. */
  heartbeat(segment: number): string { return `${this.base}:alive:${segment}`; }
  /** The slot all of them live in. */
  get slot(): number { return keySlot(this.manifest); }
}
