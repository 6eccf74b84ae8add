/**
 * `--redis docker`: a throwaway Redis container through testcontainers. testcontainers itself
 * spends many seconds probing strategies when no engine runs, so we ask the Docker socket for
 * `/_ping` first with a 1 s deadline and say what to do instead when nothing answers.
 */
import { request } from 'node:http';
import { TargetError } from '../errors.js';

const IMAGE = 'redis:7.0';
const NO_RUNTIME_HINT =
  'start Docker (or Podman with DOCKER_HOST set), or drop --redis to use the embedded redis-server from PATH, or pass --redis redis://host:port';

export interface ContainerRedis {
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

interface DockerEndpoint { socketPath?: string; host?: string; port?: number; shown: string }

export function dockerEndpoint(env: NodeJS.ProcessEnv = process.env): DockerEndpoint {
  const dockerHost = env['DOCKER_HOST'];
  if (dockerHost?.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length), shown: dockerHost };
  if (dockerHost?.startsWith('tcp://')) {
    const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
    return { host: url.hostname, port: Number(url.port || 2375), shown: dockerHost };
  }
  return { socketPath: '/var/run/docker.sock', shown: 'unix:///var/run/docker.sock' };
}

/** Resolves when a container engine answers `/_ping` within `timeoutMs`; rejects with a TargetError otherwise. */
export async function assertContainerRuntime(timeoutMs = 1000, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const endpoint = dockerEndpoint(env);
  const answered = await new Promise<string | true>((done) => {
    const req = request(
      { ...(endpoint.socketPath ? { socketPath: endpoint.socketPath } : { host: endpoint.host, port: endpoint.port }), path: '/_ping', timeout: timeoutMs },
      (res) => { res.resume(); done(res.statusCode === 200 ? true : `HTTP ${res.statusCode}`); },
    );
    req.on('timeout', () => { req.destroy(); done(`no answer within ${timeoutMs} ms`); });
    req.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    req.end();
  });
  if (answered !== true) {
    throw new TargetError(`--redis docker: no container runtime answered at ${endpoint.shown} (${answered})`, NO_RUNTIME_HINT);
  }
}

/** `args`: extra redis-server arguments (the scenario's persistence), after `--save '' --appendonly no`. */
export async function startContainerRedis(args: readonly string[] = []): Promise<ContainerRedis> {
  await assertContainerRuntime();
  // An optional dependency (its install scripts are native): a plain install may not have it.
  let testcontainers: typeof import('testcontainers');
  try {
    testcontainers = await import('testcontainers');
  } catch {
    throw new TargetError('--redis docker needs the optional package testcontainers, which is not installed', 'npm install testcontainers@12.0.1 next to sellout, or pass --redis redis://host:port');
  }
  const { GenericContainer, Wait } = testcontainers;
  try {
    const container = await new GenericContainer(IMAGE)
      .withExposedPorts(6379)
      .withCommand(['redis-server', '--save', '', '--appendonly', 'no', ...args])
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .start();
    return {
      host: container.getHost(),
      port: container.getMappedPort(6379),
      stop: async () => { await container.stop(); },
    };
  } catch (err) {
    throw new TargetError(`--redis docker: could not start ${IMAGE}: ${(err as Error).message.split('\n')[0]}`, NO_RUNTIME_HINT);
  }
}
