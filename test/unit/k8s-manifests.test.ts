/**
 * The container image (Dockerfile) and the Kubernetes manifests (deploy/k8s/) for distributed
 * runs, read as files: every manifest parses; prepare, the Indexed agent Job and collect run the
 * documented commands with the documented flags and agree on the agent count; every `$(VAR)` in
 * their args is defined; every pod runs as non-root on a read-only root with a writable /tmp;
 * collect writes its report to the reports volume; the scenario ConfigMap is a valid sellout
 * scenario whose script it holds; the Secret holds no real password; and the image's final stage
 * runs package.json's bin as a non-root user with everything the CLI needs at runtime.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadScenario } from '../../src/scenario/load.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const K8S = join(ROOT, 'deploy', 'k8s');

// --- the manifests ---

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string };
  };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface Volume {
  name: string;
  emptyDir?: object;
  configMap?: { name: string };
  persistentVolumeClaim?: { claimName: string };
}
interface PodSpec {
  restartPolicy?: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; fsGroup?: number };
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  affinity?: {
    podAntiAffinity?: {
      preferredDuringSchedulingIgnoredDuringExecution?: {
        weight: number;
        podAffinityTerm: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } };
      }[];
    };
  };
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    backoffLimit?: number;
    accessModes?: string[];
    resources?: { requests?: { storage?: string } };
    template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
  };
}

const manifestFiles = readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f)).sort();
const parsed = manifestFiles.map((file) => ({ file, docs: parseAllDocuments(readFileSync(join(K8S, file), 'utf8')) }));
const objects: K8sObject[] = parsed.flatMap(({ docs }) =>
  (Array.isArray(docs) ? docs : [docs]).map((d) => d.toJS() as K8sObject).filter((o) => o !== null),
);

function find(kind: string, name: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata?.name === name);
  expect(found, `${kind}/${name} in deploy/k8s`).toHaveLength(1);
  return found[0]!;
}
function pod(job: K8sObject): PodSpec {
  return job.spec!.template!.spec;
}
function main(job: K8sObject): Container {
  const containers = pod(job).containers;
  expect(containers).toHaveLength(1);
  return containers[0]!;
}
/** The value after `flag` in an args list (`--run-id X`), or undefined. */
function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
/** Where the volume of `pred` is mounted in the container. */
function mountOf(job: K8sObject, pred: (v: Volume) => boolean): string | undefined {
  const volume = (pod(job).volumes ?? []).find(pred);
  return volume && main(job).volumeMounts?.find((m) => m.name === volume.name)?.mountPath;
}

const jobs = ['sellout-prepare', 'sellout-agents', 'sellout-collect'] as const;

describe('deploy/k8s manifests', () => {
  it('every YAML file parses without errors or warnings into Kubernetes objects', () => {
    expect(manifestFiles.length).toBeGreaterThanOrEqual(7);
    for (const { file, docs } of parsed) {
      expect(docs.length, file).toBeGreaterThan(0);
      for (const doc of docs) {
        expect(doc.errors.map((e) => `${file}: ${e.message}`)).toEqual([]);
        expect(doc.warnings.map((e) => `${file}: ${e.message}`)).toEqual([]);
        const o = doc.toJS() as K8sObject;
        expect(o.apiVersion, file).toMatch(/^(v1|batch\/v1)$/);
        expect(o.kind, file).toMatch(/^[A-Z]\w+$/);
        expect(o.metadata.name, file).toMatch(/^[a-z0-9-]+$/);
      }
    }
    // One object per name: a second copy would silently replace the first on `kubectl apply`.
    const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('the agents are an Indexed Job of completions == parallelism == prepare --agents == the N of --segment i/N', () => {
    const agents = find('Job', 'sellout-agents');
    expect(agents.spec!.completionMode).toBe('Indexed');
    expect(agents.spec!.completions).toBeGreaterThanOrEqual(1);
    expect(agents.spec!.parallelism).toBe(agents.spec!.completions);
    expect(agents.spec!.backoffLimit).toBeLessThanOrEqual(2);
    expect(pod(agents).restartPolicy).toBe('Never');
    const prepareArgs = main(find('Job', 'sellout-prepare')).args!;
    expect(Number(flag(prepareArgs, '--agents'))).toBe(agents.spec!.completions);
    expect(flag(main(agents).args!, '--segment')).toBe(`$(JOB_COMPLETION_INDEX)/${agents.spec!.completions}`);
  });

  it('the agent runs `agent` with --redis, --run-id and its JOB_COMPLETION_INDEX', () => {
    const args = main(find('Job', 'sellout-agents')).args!;
    expect(args[0]).toBe('agent');
    expect(flag(args, '--redis')).toBe('$(REDIS_URL)');
    expect(flag(args, '--run-id')).toBe('$(RUN_ID)');
    expect(args.join(' ')).toContain('$(JOB_COMPLETION_INDEX)');
    expect(main(find('Job', 'sellout-agents')).command).toBeUndefined(); // the image's ENTRYPOINT is the CLI
  });

  it('prepare runs `prepare` on the scenario mounted from the ConfigMap, with --redis, --agents and --run-id', () => {
    const prepare = find('Job', 'sellout-prepare');
    const args = main(prepare).args!;
    expect(args[0]).toBe('prepare');
    expect(flag(args, '--redis')).toBe('$(REDIS_URL)');
    expect(flag(args, '--run-id')).toBe('$(RUN_ID)');
    expect(flag(args, '--agents')).toMatch(/^[1-9]\d*$/);
    const mount = mountOf(prepare, (v) => v.configMap?.name === 'sellout-scenario');
    expect(mount).toBeDefined();
    expect(posix.dirname(args[1]!)).toBe(mount);
    expect(Object.keys(find('ConfigMap', 'sellout-scenario').data!)).toContain(posix.basename(args[1]!));
    expect(pod(prepare).restartPolicy).toBe('Never');
  });

  it('collect runs `collect` with --redis, --run-id, --wait and --out under the reports PVC mount', () => {
    const collect = find('Job', 'sellout-collect');
    const args = main(collect).args!;
    expect(args[0]).toBe('collect');
    expect(flag(args, '--redis')).toBe('$(REDIS_URL)');
    expect(flag(args, '--run-id')).toBe('$(RUN_ID)');
    expect(flag(args, '--wait')).toMatch(/^\d+(ms|s|m|h)$/);
    const mount = mountOf(collect, (v) => v.persistentVolumeClaim?.claimName === 'sellout-reports');
    expect(mount).toBe('/reports');
    expect(flag(args, '--out')).toBe(`${mount}/$(RUN_ID)`);
    expect(args).not.toContain('--keep');
    // The non-root user must be able to write to the volume.
    expect(pod(collect).securityContext!.fsGroup).toBe(pod(collect).securityContext!.runAsUser);
    const pvc = find('PersistentVolumeClaim', 'sellout-reports');
    expect(pvc.spec!.accessModes).toEqual(['ReadWriteOnce']);
    expect(pvc.spec!.resources!.requests!.storage).toBe('1Gi');
  });

  it('every $(VAR) in the Jobs\' args is defined: REDIS_URL from the Secret, RUN_ID from the run ConfigMap, the index from Kubernetes', () => {
    for (const name of jobs) {
      const job = find('Job', name);
      const container = main(job);
      const env = new Map((container.env ?? []).map((e) => [e.name, e]));
      expect(env.get('REDIS_URL')?.valueFrom?.secretKeyRef).toMatchObject({ name: 'sellout-redis', key: 'url' });
      expect(env.get('RUN_ID')?.valueFrom?.configMapKeyRef).toEqual({ name: 'sellout-run', key: 'id' });
      expect(env.get('SELLOUT_REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toMatchObject({ name: 'sellout-redis', key: 'password' });
      const refs = [...container.args!.join(' ').matchAll(/\$\((\w+)\)/g)].map((m) => m[1]!);
      expect(refs.length).toBeGreaterThan(0);
      for (const ref of refs) {
        const fromKubernetes = ref === 'JOB_COMPLETION_INDEX' && job.spec!.completionMode === 'Indexed';
        expect(env.has(ref) || fromKubernetes, `${name}: $(${ref})`).toBe(true);
      }
      // Secrets and ConfigMaps the env names exist in deploy/k8s.
      for (const e of container.env ?? []) {
        if (e.valueFrom?.secretKeyRef) {
          const secret = find('Secret', e.valueFrom.secretKeyRef.name);
          expect(Object.keys(secret.stringData ?? secret.data ?? {})).toContain(e.valueFrom.secretKeyRef.key);
        }
        if (e.valueFrom?.configMapKeyRef) expect(Object.keys(find('ConfigMap', e.valueFrom.configMapKeyRef.name).data!)).toContain(e.valueFrom.configMapKeyRef.key);
      }
    }
    expect(find('ConfigMap', 'sellout-run').data!['id']).toMatch(/^[a-z0-9][a-z0-9-]*$/);
  });

  it('every pod runs as non-root, without privilege escalation, on a read-only root with an emptyDir /tmp', () => {
    const images = new Set<string>();
    for (const name of jobs) {
      const job = find('Job', name);
      const spec = pod(job);
      expect(spec.securityContext?.runAsNonRoot, name).toBe(true);
      expect(spec.securityContext?.runAsUser, name).toBe(1000);
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        images.add(c.image);
        expect(c.securityContext?.runAsNonRoot, `${name}/${c.name}`).toBe(true);
        expect(c.securityContext?.runAsUser, `${name}/${c.name}`).not.toBe(0);
        expect(c.securityContext?.allowPrivilegeEscalation, `${name}/${c.name}`).toBe(false);
        expect(c.securityContext?.readOnlyRootFilesystem, `${name}/${c.name}`).toBe(true);
        const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
        expect(tmp, `${name}/${c.name}: /tmp`).toBeDefined();
        expect(spec.volumes?.find((v) => v.name === tmp!.name)?.emptyDir, `${name}: /tmp is an emptyDir`).toBeDefined();
      }
    }
    // One image for all three, the placeholder the docs tell you to replace.
    expect([...images]).toEqual(['ghcr.io/your-org/sellout:0.1.0']);
  });

  it('agents ask for their own CPUs and prefer different nodes', () => {
    const agents = find('Job', 'sellout-agents');
    const resources = main(agents).resources!;
    expect(resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(resources.limits).toMatchObject({ memory: expect.any(String) });
    const terms = pod(agents).affinity!.podAntiAffinity!.preferredDuringSchedulingIgnoredDuringExecution!;
    expect(terms.length).toBeGreaterThan(0);
    const term = terms[0]!.podAffinityTerm;
    expect(term.topologyKey).toBe('kubernetes.io/hostname');
    // The selector must match the agents' own pods, or it keeps them apart from nothing.
    expect(agents.spec!.template!.metadata!.labels).toMatchObject(term.labelSelector.matchLabels);
    expect(Object.keys(term.labelSelector.matchLabels).length).toBeGreaterThan(0);
  });

  it('the Secret example holds a placeholder, never a real password', () => {
    const secret = find('Secret', 'sellout-redis');
    const data = secret.stringData!;
    const placeholder = /^(change-?me|placeholder|x+|\*+|<[^>]*>)$/i;
    const url = new URL(data['url']!);
    expect(['redis:', 'rediss:']).toContain(url.protocol);
    if (url.password !== '') expect(decodeURIComponent(url.password)).toMatch(placeholder);
    if (data['password'] !== undefined) expect(data['password']).toMatch(placeholder);
    expect(secret.data).toBeUndefined(); // base64 data would hide what is committed
  });
});

// --- the scenario ConfigMap ---

describe('the sellout-scenario ConfigMap', () => {
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'sellout-scenario');
  const data = configMap?.data ?? {};
  const dir = mkdtempSync(join(tmpdir(), 'sellout-k8s-'));
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  it('holds scenario.yaml, whose script: names a Lua file the ConfigMap also holds', () => {
    expect(Object.keys(data)).toEqual(['scenario.yaml', 'deduct.lua']);
    const docs = parseAllDocuments(data['scenario.yaml']!);
    expect(Array.isArray(docs) ? docs.length : 1).toBe(1);
    const doc = Array.isArray(docs) ? docs[0]! : docs;
    expect(doc.errors).toEqual([]);
    const script = (doc.toJS() as { script: string }).script;
    expect(script).toMatch(/\.lua$/);
    expect(script).not.toContain('/'); // next to scenario.yaml in the mounted directory
    expect(Object.keys(data)).toContain(script);
  });

  it('ships lua/deduct.lua unchanged', () => {
    expect(data['deduct.lua']).toBe(readFileSync(join(ROOT, 'lua', 'deduct.lua'), 'utf8'));
  });

  it('is a valid sellout scenario when its files sit side by side, as the volume mounts them', () => {
    for (const [key, text] of Object.entries(data)) writeFileSync(join(dir, key), text);
    const scenario = loadScenario(join(dir, 'scenario.yaml'), { cwd: dir });
    expect(scenario.name).toBe('k8s-smoke');
    expect(scenario.scriptPath).toBe(join(dir, 'deduct.lua'));
    expect(scenario.scriptSource).toBe(data['deduct.lua']);
    expect(scenario.requests).toBeGreaterThan(0);
  });
});

// --- the image ---

interface Instruction { op: string; rest: string }
interface Stage { from: string; name?: string; instructions: Instruction[] }

/** Dockerfile instructions by stage: continuation lines joined, comments dropped. */
function dockerStages(text: string): Stage[] {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const joined = lines.join('\n').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter(Boolean);
  const stages: Stage[] = [];
  for (const line of joined) {
    const [, op, rest] = /^(\w+)\s+(.*)$/.exec(line)!;
    const instruction = { op: op!.toUpperCase(), rest: rest!.trim() };
    if (instruction.op === 'FROM') {
      const [, from, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.rest)!;
      stages.push({ from: from!, ...(name ? { name } : {}), instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile: ${line}: before the first FROM`);
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

describe('Dockerfile', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { sellout: string }; files: string[] };
  const stages = dockerStages(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const final = stages.at(-1)!;
  const ops = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.rest);
  const workdir = ops(final, 'WORKDIR').at(-1);

  it('builds on node:20-bookworm-slim in two stages: npm ci + npm run build, then runtime dependencies only', () => {
    expect(stages.length).toBe(2);
    for (const stage of stages) expect(stage.from).toBe('node:20-bookworm-slim');
    const build = stages[0]!;
    expect(build.name).toBeDefined();
    expect(ops(build, 'RUN').join('\n')).toMatch(/npm ci\b/);
    expect(ops(build, 'RUN').join('\n')).toMatch(/npm run build\b/);
    const install = ops(final, 'RUN').find((r) => /npm ci\b/.test(r))!;
    expect(install).toMatch(/--omit=dev/);
    expect(install).toMatch(/--ignore-scripts/); // else `prepare` would try to build without TypeScript
    expect(ops(final, 'RUN').join('\n')).not.toMatch(/npm run build|npm install\b/);
  });

  it('runs as the non-root node user', () => {
    const users = ops(final, 'USER');
    expect(users.length).toBeGreaterThan(0);
    // The last USER is who the container runs as: node (uid 1000), never root.
    expect(users.at(-1)).toMatch(/^(node|1000)(:(node|1000))?$/);
  });

  it('has the CLI, package.json\'s bin.sellout, as its ENTRYPOINT and --help as its CMD, in /app', () => {
    expect(workdir).toBe('/app');
    const entrypoint = JSON.parse(ops(final, 'ENTRYPOINT').at(-1)!) as string[];
    expect(entrypoint[0]).toBe('node');
    expect(posix.relative(workdir!, posix.resolve(workdir!, entrypoint[1]!))).toBe(posix.normalize(pkg.bin.sellout));
    expect(existsSync(join(ROOT, pkg.bin.sellout))).toBe(true);
    expect(JSON.parse(ops(final, 'CMD').at(-1)!)).toEqual(['--help']);
  });

  it('copies into /app everything package.json `files` lists that the CLI needs at runtime, and package.json itself', () => {
    // Destinations (resolved against WORKDIR) of the final stage's COPYs, with their sources.
    const copies = ops(final, 'COPY').map((rest) => {
      const words = rest.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      const dest = posix.resolve(workdir!, paths.at(-1)!);
      return { from, sources: paths.slice(0, -1), dest };
    });
    const copied = (dir: string) => copies.find((c) => c.dest === posix.join('/app', dir) || c.dest === posix.join('/app', dir).replace(/\/$/, ''));
    const needed = pkg.files.filter((f) => f !== 'README.md' && f !== 'docs/');
    expect(needed).toEqual(expect.arrayContaining(['bin/', 'dist/src/', 'lua/']));
    for (const dir of needed) {
      const copy = copied(dir);
      expect(copy, `${dir} copied to /app/${dir}`).toBeDefined();
      if (copy!.from === undefined) {
        expect(copy!.sources.map((s) => posix.normalize(`${s}/`))).toContain(dir);
        expect(existsSync(join(ROOT, dir)), dir).toBe(true);
      } else {
        // Built in an earlier stage (dist/ is not in the repository).
        expect(stages.slice(0, -1).map((s) => s.name)).toContain(copy!.from);
        expect(posix.normalize(`${copy!.sources[0]}/`).endsWith(dir)).toBe(true);
      }
    }
    // Load workers and the version are found through /app/package.json.
    expect(copies.some((c) => c.from === undefined && c.sources.includes('package.json') && c.dest.startsWith('/app'))).toBe(true);
  });

  it('.dockerignore keeps node_modules and dist out of the context but lets in what the Dockerfile copies', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'bin', 'lua', 'scenarios']) {
      expect(ignored.map((l) => l.replace(/^\/|\/$/g, ''))).not.toContain(needed);
    }
  });
});
