/** Where a run ran (CPU, cores, OS, sellout's git commit), for reports. Reads the machine, so it lives in the CLI layer. */
import { execFileSync } from 'node:child_process';
import { arch, cpus, platform, release, totalmem } from 'node:os';
import type { EnvironmentV1 } from '../summary/summary.js';
import { PROJECT_ROOT } from '../scenario/load.js';

export function gitCommit(dir = PROJECT_ROOT): string | null {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }).toString().trim();
    return /^[0-9a-f]{40}$/.test(out) ? out : null;
  } catch {
    return null; // not a git checkout (an npm install) or no git: the version still identifies the build
  }
}

export function environment(): EnvironmentV1 {
  const cpu = cpus();
  return {
    commit: gitCommit(),
    os: `${platform()} ${release()}`,
    arch: arch(),
    cpuModel: cpu[0]?.model.trim() || 'unknown',
    cores: cpu.length,
    memoryMb: Math.round(totalmem() / 1024 / 1024),
  };
}
