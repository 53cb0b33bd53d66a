import 'reflect-metadata';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import dockerignore from '@balena/dockerignore';
import { DCLinter } from 'dclint';
import { DockerfileParser, type ImageTemplate } from 'dockerfile-ast';
import { validate as validateDockerfile } from 'dockerfile-utils';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as batch from 'kubernetes-models/batch/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as core from 'kubernetes-models/v1';
import * as semver from 'semver';
import { AppConfig } from '../src/config/app-config';
import {
  DEVELOPMENT_JWT_SECRET,
  Environment,
  ENVIRONMENT_VARIABLES,
  validateEnvironment,
} from '../src/config/environment';
import { HealthController } from '../src/health/health.controller';

/**
 * The deployment artefacts (Dockerfile, .dockerignore, docker-compose.yml, deploy/k8s) checked
 * against the code they deploy, without a Docker engine, a cluster or a database. Routes come
 * from the metadata Nest's router itself reads (the `path` and `method` keys that @Controller
 * and @Get write), so a renamed route or a moved probe path fails here, not in a rollout; and
 * each health handler is called with recording fakes to learn which ones ping the database.
 */

const ROOT = resolve(__dirname, '..');
const K8S_DIR = join(ROOT, 'deploy/k8s');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

type Json = Record<string, unknown>;
type Env = Record<string, string>;

const obj = (value: unknown, what: string): Json => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${what} is not a mapping`);
  }
  return value as Json;
};
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

// ---------------------------------------------------------------------------------------------
// What the code serves

const packageJson = JSON.parse(read('package.json')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  engines: { node: string };
};
const DEFAULTS = new Environment();
const MIGRATION_COMMAND = ['node', 'node_modules/typeorm/cli.js', '-d', 'dist/ormconfig.js'];

const joinPath = (...parts: string[]): string =>
  '/' +
  parts
    .flatMap((part) => part.split('/'))
    .filter((segment) => segment.length > 0)
    .join('/');

/** GET routes of a controller, as full paths, each with the name of its handler. */
function getRoutes(controller: new (...args: never[]) => unknown): Map<string, string> {
  const prefixes = [Reflect.getMetadata(PATH_METADATA, controller) as string | string[]].flat();
  const routes = new Map<string, string>();
  for (const name of Object.getOwnPropertyNames(controller.prototype)) {
    const handler = (controller.prototype as Record<string, unknown>)[name];
    if (name === 'constructor' || typeof handler !== 'function') continue;
    const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
    const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
    if (paths === undefined || method !== RequestMethod.GET) continue;
    for (const prefix of prefixes) {
      for (const path of [paths].flat()) routes.set(joinPath(prefix, path), name);
    }
  }
  return routes;
}

/** Calls a HealthController handler with fakes and reports whether it pings the database. */
async function pingsDatabase(handler: string): Promise<boolean> {
  let pinged = false;
  const indicator = { up: (data: Json) => data, down: (data: Json) => data };
  const controller = new HealthController(
    { check: async (checks: Array<() => unknown>) => Promise.all(checks.map((c) => c())) } as never,
    { check: () => indicator } as never,
    { pingCheck: () => ((pinged = true), {}) } as never,
    { isShuttingDown: false } as never,
    { database: { connectTimeoutMs: 1000 } } as never,
  );
  await (controller as unknown as Record<string, () => Promise<unknown>>)[handler]();
  return pinged;
}

const HEALTH_ROUTES = getRoutes(HealthController);

// ---------------------------------------------------------------------------------------------
// The artefacts

interface Manifest {
  file: string;
  doc: Json;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

const MANIFEST_FILES = yamlFiles(K8S_DIR).map((path) => relative(ROOT, path));

function parseYamlFile(file: string): Json[] {
  return parseAllDocuments(read(file), { merge: true }).map((document, index) => {
    if (document.errors.length > 0) {
      throw new Error(`${file} document ${index}: ${document.errors.map((e) => e.message)}`);
    }
    return obj(document.toJS(), `${file} document ${index}`);
  });
}

const MANIFESTS: Manifest[] = MANIFEST_FILES.flatMap((file) =>
  parseYamlFile(file).map((doc) => ({ file, doc })),
);

/** The name of the service's own Deployment and Service (the optional Redis has others). */
const SERVICE = 'tasks-service';
/** Kustomizations proper, and the optional components (kind Component) they may include. */
const isKustomization = (doc: Json): boolean =>
  doc.kind === 'Kustomization' || doc.kind === 'Component';

function only(kind: string, name?: string): Manifest {
  const found = MANIFESTS.filter(
    ({ doc }) =>
      doc.kind === kind && (name === undefined || obj(doc.metadata, 'metadata').name === name),
  );
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0];
}

const spec = (manifest: Manifest): Json => obj(manifest.doc.spec, `${manifest.file} spec`);
const podSpec = (manifest: Manifest): Json =>
  obj(obj(spec(manifest).template, 'template').spec, `${manifest.file} pod spec`);
const podLabels = (manifest: Manifest): Json =>
  obj(obj(obj(spec(manifest).template, 'template').metadata, 'metadata').labels, 'labels');
const firstContainer = (manifest: Manifest): Json => {
  const containers = list(podSpec(manifest).containers);
  if (containers.length !== 1) throw new Error(`${manifest.file}: expected one container`);
  return obj(containers[0], `${manifest.file} container`);
};
const selects = (selector: Json, labels: Json): boolean =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

/** The environment a container gets: envFrom (ConfigMaps, the example Secret) then env. */
function containerEnv(container: Json): Env {
  const env: Env = {};
  const dataOf = (kind: 'ConfigMap' | 'Secret', name: unknown): Json => {
    const source = only(kind, String(name)).doc;
    return kind === 'Secret'
      ? obj(source.stringData, 'Secret stringData')
      : obj(source.data, 'data');
  };
  for (const source of list(container.envFrom).map((s) => obj(s, 'envFrom'))) {
    const ref = source.configMapRef ?? source.secretRef;
    const data = dataOf(source.configMapRef ? 'ConfigMap' : 'Secret', obj(ref, 'ref').name);
    for (const [key, value] of Object.entries(data)) env[key] = String(value);
  }
  for (const entry of list(container.env).map((e) => obj(e, 'env'))) {
    const name = String(entry.name);
    if (entry.value !== undefined) {
      env[name] = String(entry.value);
    } else {
      const from = obj(entry.valueFrom, `${name} valueFrom`);
      const ref = obj(from.configMapKeyRef ?? from.secretKeyRef, `${name} key ref`);
      const data = dataOf(from.configMapKeyRef ? 'ConfigMap' : 'Secret', ref.name);
      env[name] = String(data[String(ref.key)]);
    }
  }
  return env;
}

const sleepSeconds = (preStop: Json): number => {
  if (preStop.sleep) return Number(obj(preStop.sleep, 'sleep').seconds);
  const command = list(obj(preStop.exec, 'preStop exec').command).join(' ');
  const match = /(?:^|\s)sleep\s+(\d+)\b/.exec(command);
  if (!match) throw new Error(`preStop does not sleep: ${command}`);
  return Number(match[1]);
};

type KubernetesModel = new (data: Json) => { validate(): void };
/** The API groups the manifests use, with kubernetes-models' classes generated from their schemas. */
const KUBERNETES_MODELS: Record<string, Record<string, unknown>> = {
  v1: core,
  'apps/v1': apps,
  'batch/v1': batch,
  'policy/v1': policy,
  'autoscaling/v2': autoscaling,
  'networking.k8s.io/v1': networking,
};

/**
 * Schema errors of Kubernetes objects, checked against the Kubernetes OpenAPI schemas (which
 * kubeconform checks against too) by kubernetes-models.
 */
function kubernetesSchemaErrors(manifests: Manifest[]): string[] {
  return manifests.flatMap(({ file, doc }) => {
    const Model = KUBERNETES_MODELS[String(doc.apiVersion)]?.[String(doc.kind)] as
      KubernetesModel | undefined;
    if (!Model) return [`${file}: no schema for ${String(doc.apiVersion)} ${String(doc.kind)}`];
    try {
      new Model(doc).validate();
      return [];
    } catch (error) {
      return [`${file} ${String(doc.kind)}: ${(error as Error).message}`];
    }
  });
}

/** A compose service's environment as written (a mapping or `KEY=value` items). */
function composeEnv(service: Json): Env {
  const raw = service.environment ?? {};
  const entries: Array<[string, unknown]> = Array.isArray(raw)
    ? raw.map((item: string) => [item.split('=')[0], item.split('=').slice(1).join('=')])
    : Object.entries(obj(raw, 'environment'));
  return Object.fromEntries(entries.map(([key, value]) => [key, String(value)]));
}

/** Compose's `${VAR?message}` / `${VAR:?message}`: a value that must come from the environment. */
const REQUIRED_VARIABLE = /^\$\{(\w+):?\?[^}]*\}$/;
/** Stands in for the secret that compose requires from `.env`. */
const SECRET_IN_DOT_ENV = 'a-value-the-user-puts-in-dot-env-32+chars';

/** Which port a probe or Service target means: a number, or a container port's name. */
const resolvePort = (container: Json, port: unknown): number => {
  if (typeof port === 'number') return port;
  const named = list(container.ports)
    .map((p) => obj(p, 'port'))
    .find((p) => p.name === port);
  if (!named) throw new Error(`no container port named ${String(port)}`);
  return Number(named.containerPort);
};

// ---------------------------------------------------------------------------------------------

describe('the code the manifests are checked against', () => {
  it('serves the health routes the probes may use, and knows which ones ping the database', async () => {
    // If Nest's metadata keys ever change, this fails instead of every check below passing
    // vacuously.
    expect([...HEALTH_ROUTES.keys()]).toEqual(
      expect.arrayContaining(['/health', '/health/live', '/health/ready']),
    );
    expect(await pingsDatabase(HEALTH_ROUTES.get('/health/live')!)).toBe(false);
    expect(await pingsDatabase(HEALTH_ROUTES.get('/health/ready')!)).toBe(true);
  });

  it('has no global prefix or versioning that the route metadata would not show', () => {
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory()
          ? sources(join(dir, entry.name))
          : entry.name.endsWith('.ts')
            ? [join(dir, entry.name)]
            : [],
      );
    for (const file of sources(join(ROOT, 'src'))) {
      // A prefix changes every path: account for it in getRoutes() before removing this.
      expect(readFileSync(file, 'utf8')).not.toMatch(/setGlobalPrefix|enableVersioning/);
    }
  });
});

describe('every manifest', () => {
  it('parses, and the kustomizations list every resource except the Secret example', () => {
    expect(MANIFEST_FILES.length).toBeGreaterThan(0);
    const kustomizations = MANIFESTS.filter(({ doc }) => isKustomization(doc));
    const listed = new Set(
      kustomizations.flatMap(({ file, doc }) =>
        list(doc.resources).map((resource) =>
          relative(ROOT, resolve(ROOT, file, '..', String(resource))),
        ),
      ),
    );
    for (const file of listed) expect(existsSync(join(ROOT, file))).toBe(true);
    for (const { file, doc } of MANIFESTS) {
      expect(typeof doc.apiVersion).toBe('string');
      expect(typeof doc.kind).toBe('string');
      if (isKustomization(doc)) continue;
      if (doc.kind === 'Secret') {
        // Applying an example would overwrite the real credentials.
        expect(listed.has(file)).toBe(false);
        expect(file).toMatch(/example/);
      } else {
        expect(listed.has(file)).toBe(true);
      }
    }
  });

  it('passes the Kubernetes API schemas of its kind', () => {
    const objects = MANIFESTS.filter(({ doc }) => !isKustomization(doc));
    expect(objects.length).toBeGreaterThan(5);
    const deployment = only('Deployment', SERVICE);
    // The validator itself: a port that is not a number is refused.
    const broken = structuredClone(deployment);
    obj(list(podSpec(broken).containers)[0], 'container').ports = [{ containerPort: 'http' }];
    const [valid, invalid] = [objects, [broken]].map(kubernetesSchemaErrors);
    expect(valid).toEqual([]);
    expect(invalid).toEqual([expect.stringMatching(/containerPort must be integer/)]);
  });

  it('sets only variables the service reads', () => {
    const known = new Set<string>(ENVIRONMENT_VARIABLES);
    const keys = [
      ...MANIFESTS.filter(({ doc }) => doc.kind === 'ConfigMap').flatMap(({ doc }) =>
        Object.keys(obj(doc.data, 'data')),
      ),
      ...MANIFESTS.filter(({ doc }) => doc.kind === 'Secret').flatMap(({ doc }) =>
        Object.keys(obj(doc.stringData, 'stringData')),
      ),
      ...[only('Deployment', SERVICE), only('Job')].flatMap((m) =>
        Object.keys(containerEnv(firstContainer(m))),
      ),
    ];
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((key) => !known.has(key))).toEqual([]);
  });

  it('ships no real secret: the example holds placeholders only', () => {
    const secret = only('Secret');
    for (const value of Object.values(obj(secret.doc.stringData, 'stringData'))) {
      expect(String(value)).toContain('CHANGE_ME');
    }
    expect(secret.doc.data).toBeUndefined();
  });

  it('uses one image, set in one place per kustomization, for the service and the Job', () => {
    const image = firstContainer(only('Deployment', SERVICE)).image;
    expect(firstContainer(only('Job')).image).toBe(image);
    const overrides = MANIFESTS.filter(({ doc }) => doc.kind === 'Kustomization').map(({ doc }) =>
      list(doc.images).map((entry) => obj(entry, 'image')),
    );
    expect(overrides.length).toBe(2);
    for (const images of overrides) expect(images).toEqual(overrides[0]);
    expect(overrides[0].map((entry) => entry.name)).toEqual([image]);
  });
});

describe('the Deployment', () => {
  let deployment: Manifest;
  let pod: Json;
  let container: Json;
  let env: Env;
  let validated: Environment;
  let port: number;

  // A bad environment fails every test below with the service's own message, which names each
  // offending variable.
  beforeAll(() => {
    deployment = only('Deployment', SERVICE);
    pod = podSpec(deployment);
    container = firstContainer(deployment);
    env = containerEnv(container);
    validated = validateEnvironment(env);
    port = validated.PORT;
  });

  it('has an environment that passes the service own validation, as production', () => {
    expect(env.NODE_ENV).toBe('production');
    expect(validated.NODE_ENV).toBe('production');
    expect(env.DATABASE_URL).toBeTruthy();
    expect(Boolean(env.AUTH_JWT_SECRET) !== Boolean(env.AUTH_JWKS_URL)).toBe(true);
    expect(validated.DB_MIGRATIONS_RUN).toBe(false);
  });

  it('runs the image CMD, two replicas, on the port the service listens on', () => {
    expect(container.command).toBeUndefined();
    expect(container.args).toBeUndefined();
    expect(spec(deployment).replicas).toBe(2);
    expect(port).toBe(Number(env.PORT ?? DEFAULTS.PORT));
    const ports = list(container.ports).map((p) => obj(p, 'port'));
    expect(ports.map((p) => p.containerPort)).toEqual([port, validated.LIVENESS_PORT]);
  });

  it('probes served routes: liveness on LIVENESS_PORT, the others on the service port; liveness and startup check no dependency', async () => {
    const probe = (name: string): Json => {
      const httpGet = obj(obj(container[name], name).httpGet, `${name} httpGet`);
      // Liveness on the listener of its own thread, which answers however busy the pod is.
      expect(resolvePort(container, httpGet.port)).toBe(
        name === 'livenessProbe' ? validated.LIVENESS_PORT : port,
      );
      const handler = HEALTH_ROUTES.get(String(httpGet.path));
      if (!handler) throw new Error(`${name} probes ${String(httpGet.path)}, which is not served`);
      return { ...httpGet, handler };
    };
    const liveness = probe('livenessProbe');
    const readiness = probe('readinessProbe');
    const startup = probe('startupProbe');
    // A database outage must take pods out of the Service, never restart them in a loop.
    expect(await pingsDatabase(String(liveness.handler))).toBe(false);
    expect(await pingsDatabase(String(startup.handler))).toBe(false);
    expect(await pingsDatabase(String(readiness.handler))).toBe(true);
    expect(liveness.path).toBe('/health/live');
    expect(readiness.path).toBe('/health/ready');
  });

  it('gives start-up long enough to wait for a waking database', () => {
    const startup = obj(container.startupProbe, 'startupProbe');
    const budget =
      Number(startup.failureThreshold) * Number(startup.periodSeconds) +
      Number(startup.initialDelaySeconds ?? 0);
    // The service listens only once the database answered (up to the retry window, plus one
    // connect timeout for the last attempt).
    expect(budget).toBeGreaterThan(
      (validated.DATABASE_STARTUP_RETRY_MS + validated.DATABASE_CONNECT_TIMEOUT_MS) / 1000,
    );
  });

  it('lets a graceful shutdown finish before the kubelet kills the pod', () => {
    const preStop = sleepSeconds(obj(obj(container.lifecycle, 'lifecycle').preStop, 'preStop'));
    const grace = Number(pod.terminationGracePeriodSeconds);
    expect(preStop).toBeGreaterThan(0);
    expect(grace).toBeGreaterThan(preStop + validated.SHUTDOWN_GRACE_MS / 1000);
    // Margin: the longest an in-flight request can take (pg's query_timeout).
    const longestRequest =
      (validated.DATABASE_STATEMENT_TIMEOUT_MS + validated.DATABASE_CONNECT_TIMEOUT_MS) / 1000;
    expect(grace).toBeGreaterThanOrEqual(
      preStop + validated.SHUTDOWN_GRACE_MS / 1000 + longestRequest,
    );
  });

  it('runs as non-root on a read-only root file system, with /tmp writable, within limits', () => {
    const podSecurity = obj(pod.securityContext ?? {}, 'pod securityContext');
    const security = obj(container.securityContext, 'securityContext');
    expect(security.runAsNonRoot ?? podSecurity.runAsNonRoot).toBe(true);
    expect(Number(security.runAsUser ?? podSecurity.runAsUser)).toBeGreaterThan(0);
    expect(security.readOnlyRootFilesystem).toBe(true);
    expect(security.allowPrivilegeEscalation).toBe(false);
    const tmp = list(container.volumeMounts)
      .map((m) => obj(m, 'mount'))
      .find((m) => m.mountPath === '/tmp');
    const volume = list(pod.volumes)
      .map((v) => obj(v, 'volume'))
      .find((v) => v.name === tmp?.name);
    expect(volume?.emptyDir).toBeDefined();
    const resources = obj(container.resources, 'resources');
    for (const kind of ['requests', 'limits']) {
      expect(Object.keys(obj(resources[kind], kind)).sort()).toEqual(['cpu', 'memory']);
    }
  });

  it('is selected by the Service, the PDB and the HPA, and the migration pods are not', () => {
    const labels = podLabels(deployment);
    const jobLabels = podLabels(only('Job'));
    const service = only('Service', SERVICE);
    const serviceSpec = spec(service);
    const selector = obj(serviceSpec.selector, 'Service selector');
    expect(selects(selector, labels)).toBe(true);
    expect(selects(selector, jobLabels)).toBe(false);
    for (const servicePort of list(serviceSpec.ports).map((p) => obj(p, 'port'))) {
      expect(resolvePort(container, servicePort.targetPort)).toBe(port);
    }
    const pdbSelector = obj(obj(spec(only('PodDisruptionBudget')).selector, 's').matchLabels, 'm');
    expect(selects(pdbSelector, labels)).toBe(true);
    expect(selects(pdbSelector, jobLabels)).toBe(false);
    const hpa = spec(only('HorizontalPodAutoscaler'));
    expect(obj(hpa.scaleTargetRef, 'scaleTargetRef')).toMatchObject({
      kind: 'Deployment',
      name: obj(deployment.doc.metadata, 'metadata').name,
    });
    expect(hpa.minReplicas).toBe(spec(deployment).replicas);
    expect(Number(hpa.maxReplicas)).toBeGreaterThanOrEqual(Number(hpa.minReplicas));
  });
});

describe('the migration Job', () => {
  let job: Manifest;
  let container: Json;
  let env: Env;

  beforeAll(() => {
    job = only('Job');
    container = firstContainer(job);
    env = containerEnv(container);
  });

  it('runs the compiled TypeORM CLI against the compiled ormconfig, no dev dependency', () => {
    expect(container.command).toEqual([...MIGRATION_COMMAND, 'migration:run']);
    expect(packageJson.dependencies.typeorm).toBeDefined();
    expect(existsSync(join(ROOT, 'node_modules/typeorm/cli.js'))).toBe(true);
    expect(existsSync(join(ROOT, 'ormconfig.ts'))).toBe(true);
    expect(podSpec(job).restartPolicy).toBe('Never');
  });

  it('migrates DATABASE_DIRECT_URL, a direct (non-pooled) endpoint, with a valid environment', () => {
    expect(env.DATABASE_DIRECT_URL).toBeTruthy();
    expect(new URL(env.DATABASE_DIRECT_URL).hostname).not.toMatch(/-pooler\./);
    expect(new URL(env.DATABASE_URL).hostname).toMatch(/-pooler\./);
    // Neon requires TLS; node-postgres reads sslmode from the URL.
    for (const url of [env.DATABASE_URL, env.DATABASE_DIRECT_URL]) {
      expect(['require', 'verify-full']).toContain(new URL(url).searchParams.get('sslmode'));
    }
    const validated = validateEnvironment(env);
    expect(validated.NODE_ENV).toBe('production');
    // What ormconfig.ts connects to.
    expect(AppConfig.fromEnvironment(validated).database.directUrl).toBe(env.DATABASE_DIRECT_URL);
    // A long migration is not cut by the service's request-sized bounds, nor by the deadline.
    expect(validated.DATABASE_STATEMENT_TIMEOUT_MS).toBeGreaterThan(
      DEFAULTS.DATABASE_STATEMENT_TIMEOUT_MS,
    );
    expect(Number(spec(job).activeDeadlineSeconds)).toBeGreaterThan(
      (validated.DATABASE_STATEMENT_TIMEOUT_MS + validated.DATABASE_CONNECT_TIMEOUT_MS) / 1000,
    );
  });

  it('runs as non-root on a read-only root file system', () => {
    const podSecurity = obj(podSpec(job).securityContext ?? {}, 'pod securityContext');
    const security = obj(container.securityContext, 'securityContext');
    expect(security.runAsNonRoot ?? podSecurity.runAsNonRoot).toBe(true);
    expect(security.readOnlyRootFilesystem).toBe(true);
  });
});

describe('the Dockerfile', () => {
  const source = read('Dockerfile');
  const dockerfile = DockerfileParser.parse(source);
  const stages = new Map(
    dockerfile
      .getFROMs()
      .map((from) => [from.getBuildStage(), dockerfile.getContainingImage(from.getRange().start)!]),
  );
  const runtime = [...stages.values()].at(-1)!;
  const keywords = (stage: ImageTemplate, keyword: string): string[] =>
    stage
      .getInstructions()
      .filter((instruction) => instruction.getKeyword() === keyword)
      .map((instruction) => instruction.getArgumentsContent() ?? '');

  it('has no error a Dockerfile linter finds', () => {
    expect(validateDockerfile(source).map((problem) => problem.message)).toEqual([]);
    expect([...stages.keys()]).toEqual(['build', 'deps', 'runtime']);
  });

  it('runs what start:prod runs, which is where the build puts main.js', () => {
    const cmd = runtime
      .getCMDs()
      .at(-1)!
      .getJSONStrings()
      .map((argument) => argument.getJSONValue());
    expect(packageJson.scripts['start:prod']).toBe(`exec ${cmd.join(' ')}`);
    const tsconfig = JSON.parse(read('tsconfig.json')) as { compilerOptions: Json };
    const nestCli = JSON.parse(read('nest-cli.json')) as { entryFile: string };
    const outDir = String(tsconfig.compilerOptions.outDir).replace(/^\.\//, '');
    expect(tsconfig.compilerOptions.rootDir).toBe('.');
    // node, its flags (the heap cap), then the entry point.
    expect(cmd[0]).toBe('node');
    expect(cmd.slice(1, -1).every((word) => word.startsWith('--'))).toBe(true);
    expect(cmd.at(-1)).toBe(`${outDir}/${nestCli.entryFile}.js`);
    // The migration command's ormconfig is the compiled ormconfig.ts in the same place.
    expect(MIGRATION_COMMAND[3]).toBe(`${outDir}/ormconfig.js`);
  });

  it('runs as a non-root user, by number, the one the manifests run as', () => {
    const name = keywords(runtime, 'USER').at(-1)?.split(':')[0];
    expect(name).toMatch(/^\d+$/);
    expect(Number(name)).toBeGreaterThan(0);
    const podUser = obj(podSpec(only('Deployment', SERVICE)).securityContext, 'sc').runAsUser;
    expect(Number(name)).toBe(podUser);
  });

  it('installs production dependencies only in what the runtime stage copies', () => {
    const copies = runtime
      .getCOPYs()
      .filter((copy) => copy.getArguments().some((a) => a.getValue().includes('node_modules')));
    expect(copies).toHaveLength(1);
    const from = stages.get(copies[0].getFromFlag()?.getValue() ?? null);
    const install = keywords(from!, 'RUN').find((run) => /npm ci/.test(run));
    expect(install).toMatch(/--omit=dev/);
  });

  it('sets only known variables, production and the default port', () => {
    const env = Object.fromEntries(
      runtime
        .getENVs()
        .flatMap((instruction) => instruction.getProperties())
        .map((property) => [property.getName(), property.getValue() ?? '']),
    );
    const known = new Set<string>(ENVIRONMENT_VARIABLES);
    expect(Object.keys(env).filter((key) => !known.has(key))).toEqual([]);
    expect(env.NODE_ENV).toBe('production');
    expect(Number(env.PORT ?? DEFAULTS.PORT)).toBe(DEFAULTS.PORT);
    expect(keywords(runtime, 'EXPOSE')).toEqual([String(DEFAULTS.PORT)]);
  });

  it('builds on a Node line that the project and every production dependency accept', () => {
    const image = dockerfile
      .getInitialARGs()
      .map((arg) => arg.getProperty())
      .find((property) => property?.getName() === 'NODE_IMAGE')
      ?.getValue();
    const major = Number(/^node:(\d+)\b/.exec(image ?? '')?.[1]);
    expect(major).toBeGreaterThan(0);
    const lock = JSON.parse(read('package-lock.json')) as {
      packages: Record<string, { dev?: boolean; engines?: { node?: string } }>;
    };
    const ranges = [
      ['tasks-service', packageJson.engines.node],
      ...Object.entries(lock.packages)
        .filter(([path, entry]) => path !== '' && !entry.dev && entry.engines?.node)
        .map(([path, entry]) => [path, entry.engines!.node!]),
    ];
    expect(ranges.length).toBeGreaterThan(1);
    // The image tag names a major line only, so it gets that line's newest release.
    const refused = ranges.filter(([, range]) => !semver.intersects(range, `^${major}`));
    expect(refused).toEqual([]);
  });

  it('keeps .env, the embedded database, dependencies and build output out of the context', () => {
    const context = dockerignore().add(read('.dockerignore').split('\n'));
    const excluded = [
      '.env',
      '.data/development/PG_VERSION',
      'node_modules/pg/package.json',
      'dist/src/main.js',
      '.git/HEAD',
      'test/deploy.spec.ts',
      'src/tasks/tasks.controller.spec.ts',
    ];
    expect(excluded.filter((path) => !context.ignores(path))).toEqual([]);
    // ... and lets in everything the Dockerfile copies from the context.
    const sources = [...stages.values()].flatMap((stage) =>
      stage
        .getCOPYs()
        .filter((copy) => copy.getFromFlag() === null)
        .flatMap((copy) => copy.getArguments().slice(0, -1))
        .map((argument) => argument.getValue()),
    );
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'src', 'migrations']));
    for (const copied of sources) expect(existsSync(join(ROOT, copied))).toBe(true);
    expect(sources.filter((path) => context.ignores(path))).toEqual([]);
    expect(context.ignores('src/main.ts')).toBe(false);
  });
});

describe('the npm start scripts', () => {
  // Watch mode restarts the app on every save with SIGTERM: waiting out a load balancer that
  // does not exist there cost 10 s per save. Production keeps its default.
  it('give the app no shutdown grace period in watch mode only', () => {
    expect(packageJson.scripts['start:dev']).toMatch(/^exec env SHUTDOWN_GRACE_MS=0 nest start /);
    for (const name of ['start', 'start:prod']) {
      expect(packageJson.scripts[name]).not.toMatch(/SHUTDOWN_GRACE_MS/);
    }
    expect(validateEnvironment({ AUTH_JWT_SECRET: 'x'.repeat(32) }).SHUTDOWN_GRACE_MS).toBe(10_000);
  });

  // npm runs a script through `sh -c` and forwards SIGTERM to that shell, which dies of it
  // without passing it on; the Nest CLI forwards it to its child, which by default is a shell
  // too. Without `exec` and `--no-shell`, SIGTERM to `npm start` orphans a serving app.
  it('hand SIGTERM to the app: each execs its command, and the Nest CLI spawns node directly', () => {
    for (const name of ['start', 'start:dev', 'start:prod']) {
      expect([name, packageJson.scripts[name]]).toEqual([name, expect.stringMatching(/^exec /)]);
    }
    expect(packageJson.scripts['start:dev']).toMatch(/^exec .*\bnest start\b.*\s--no-shell\b/);
    // `npm start` compiles first (`prestart`, SWC with the Nest CLI's own settings), then runs
    // node itself: the Nest CLI takes longer to load than the compile and the start together.
    expect(packageJson.scripts.start).toMatch(/^exec node .*dist\/src\/main\.js$/);
    // It compiles beside dist/ and refuses, before replacing it, while another process serves
    // the embedded database (test/start-refusals.spec.ts runs it).
    expect(packageJson.scripts.prestart).toBe('bash scripts/compile-for-start.sh');
    expect(readFileSync(join(ROOT, 'scripts/compile-for-start.sh'), 'utf8')).toMatch(
      /\bswc src migrations ormconfig\.ts .*-d dist\.next --config-file \.swcrc\b/,
    );
  });
});

// Optional: shares the rate limiter's counters between replicas when a deployment includes it.
describe('the optional Redis component (deploy/k8s/redis)', () => {
  const component = (): Manifest => only('Component');
  const selectorOf = (service: Manifest): Json => obj(spec(service).selector, 'selector');
  const configPatch = (): Json => {
    const patches = list(component().doc.patches).map(
      (entry) => parse(String(obj(entry, 'patch').patch)) as Json,
    );
    const found = patches.filter((patch) => patch.kind === 'ConfigMap');
    expect(found).toHaveLength(1);
    return found[0];
  };

  it('is a component, which the default kustomization leaves out', () => {
    expect(component().file).toBe('deploy/k8s/redis/kustomization.yaml');
    const base = MANIFESTS.find(({ file }) => file === 'deploy/k8s/kustomization.yaml');
    expect(list(base?.doc.components)).toEqual([]);
  });

  it("turns the limit on and points the service's REDIS_URL at the Redis Service", () => {
    const service = firstContainer(only('Deployment', SERVICE));
    const configMaps = list(service.envFrom)
      .map((source) => obj(source, 'envFrom').configMapRef)
      .filter((ref) => ref !== undefined)
      .map((ref) => obj(ref, 'configMapRef').name);
    const patch = configPatch();
    expect(configMaps).toContain(obj(patch.metadata, 'metadata').name);
    const data = obj(patch.data, 'data');
    const known = new Set<string>(ENVIRONMENT_VARIABLES);
    for (const [key, value] of Object.entries(data)) {
      expect(known.has(key)).toBe(true);
      // ConfigMap values are strings: an unquoted number is refused by the API server.
      expect(typeof value).toBe('string');
    }
    const validated = validateEnvironment({ ...containerEnv(service), ...(data as Env) });
    expect(validated.RATE_LIMIT_PER_MINUTE).toBeGreaterThan(0);

    const url = new URL(String(validated.REDIS_URL));
    const redisService = only('Service', url.hostname);
    const redis = only('Deployment', url.hostname);
    const servicePort = obj(list(spec(redisService).ports)[0], 'port');
    expect(Number(url.port)).toBe(servicePort.port);
    expect(resolvePort(firstContainer(redis), servicePort.targetPort)).toBe(Number(url.port));
    expect(selects(selectorOf(redisService), podLabels(redis))).toBe(true);
    // Neither Service picks up the other's pods.
    expect(selects(selectorOf(redisService), podLabels(only('Deployment', SERVICE)))).toBe(false);
    expect(selects(selectorOf(only('Service', SERVICE)), podLabels(redis))).toBe(false);
  });

  it("admits the service's pods only, since this Redis has no password", () => {
    const policy = spec(only('NetworkPolicy'));
    const redis = only('Deployment', 'tasks-service-redis');
    expect(selects(obj(obj(policy.podSelector, 'p').matchLabels, 'm'), podLabels(redis))).toBe(
      true,
    );
    const sources = list(policy.ingress).flatMap((rule) => list(obj(rule, 'rule').from));
    expect(sources).toHaveLength(1);
    const allowed = obj(obj(obj(sources[0], 'from').podSelector, 'p').matchLabels, 'm');
    expect(selects(allowed, podLabels(only('Deployment', SERVICE)))).toBe(true);
    expect(selects(allowed, podLabels(only('Job')))).toBe(false);
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as Json;
  const services = obj(compose.services, 'services');
  const postgres = obj(services.postgres, 'postgres');
  const migrate = obj(services.migrate, 'migrate');
  const app = obj(services.app, 'app');
  const pgEnv = composeEnv(postgres);

  it("passes the Compose specification's schema and dclint's correctness rules", () => {
    const linter = new DCLinter({
      rules: {
        // Style only: the order of keys and services.
        'service-keys-order': 0,
        'services-alphabetical-order': 0,
        'service-dependencies-alphabetical-order': 0,
        'service-ports-alphabetical-order': 0,
        'top-level-properties-order': 0,
        // Deliberate: `build` once and tag the image, which both migrate and app then run.
        'no-build-and-image': 0,
      },
      quiet: true,
      debug: false,
      exclude: [],
    });
    const [result] = linter.lintFiles([join(ROOT, 'docker-compose.yml')], false);
    expect(
      result.messages.map(
        (message: { rule: string; message: string }) => `${message.rule}: ${message.message}`,
      ),
    ).toEqual([]);
  });

  it('runs PostgreSQL with a healthcheck and a named volume', () => {
    expect(obj(postgres.healthcheck, 'healthcheck').test).toBeDefined();
    const volumes = list(postgres.volumes).map((v) => String(v).split(':')[0]);
    const named = Object.keys(obj(compose.volumes, 'volumes'));
    expect(volumes.some((volume) => named.includes(volume))).toBe(true);
  });

  it('migrates once, then starts the app, in that order', () => {
    expect(migrate.command).toEqual([...MIGRATION_COMMAND, 'migration:run']);
    expect(obj(migrate.depends_on, 'depends_on')).toEqual({
      postgres: { condition: 'service_healthy' },
    });
    expect(obj(app.depends_on, 'depends_on')).toEqual({
      postgres: { condition: 'service_healthy' },
      migrate: { condition: 'service_completed_successfully' },
    });
  });

  it.each([
    ['app', app],
    ['migrate', migrate],
  ])(
    'gives %s .env, known variables and the compose database, valid as production',
    (_, service) => {
      const files = list(service.env_file).map((f) =>
        typeof f === 'string' ? f : obj(f, 'f').path,
      );
      expect(files).toContain('.env');
      const env = composeEnv(service);
      const known = new Set<string>(ENVIRONMENT_VARIABLES);
      expect(Object.keys(env).filter((key) => !known.has(key))).toEqual([]);
      // Nothing is interpolated but the secret, which compose requires from `.env`
      // (`${VAR?message}` stops `docker compose up` with that message while it is unset).
      const interpolated = Object.entries(env).filter(([, value]) => value.includes('$'));
      expect(interpolated.map(([key, value]) => [key, REQUIRED_VARIABLE.exec(value)?.[1]])).toEqual(
        [['AUTH_JWT_SECRET', 'AUTH_JWT_SECRET']],
      );
      for (const variable of ['DATABASE_URL', 'DATABASE_DIRECT_URL']) {
        const url = new URL(env[variable]);
        expect(url.hostname).toBe('postgres');
        expect(url.port).toBe('5432');
        expect(decodeURIComponent(url.username)).toBe(pgEnv.POSTGRES_USER);
        expect(decodeURIComponent(url.password)).toBe(pgEnv.POSTGRES_PASSWORD);
        expect(url.pathname).toBe(`/${pgEnv.POSTGRES_DB}`);
      }
      expect(validateEnvironment({ ...env, AUTH_JWT_SECRET: SECRET_IN_DOT_ENV }).NODE_ENV).toBe(
        'production',
      );
      // Production mode refuses the public development secret, so `.env` must hold another.
      expect(() =>
        validateEnvironment({ ...env, AUTH_JWT_SECRET: DEVELOPMENT_JWT_SECRET }),
      ).toThrow(/development secret/);
    },
  );

  it('offers a Redis for the rate limit behind a profile, which the app does not wait for', () => {
    const redis = obj(services.redis, 'redis');
    expect(list(redis.profiles)).toEqual(['redis']);
    expect(obj(redis.healthcheck, 'healthcheck').test).toBeDefined();
    expect(Object.keys(obj(app.depends_on, 'depends_on'))).not.toContain('redis');
    // The URL the compose file's header tells users to put in .env.
    const documented = /REDIS_URL=(\S+)/.exec(read('docker-compose.yml'))?.[1];
    expect(validateEnvironment({ REDIS_URL: documented }).REDIS_URL).toBe('redis://redis:6379');
  });

  it('publishes and health-checks the port the app listens on', () => {
    const env: Env = { ...composeEnv(app), AUTH_JWT_SECRET: SECRET_IN_DOT_ENV };
    const port = validateEnvironment(env).PORT;
    expect(port).toBe(Number(env.PORT));
    const published = list(app.ports).map((p) => Number(String(p).split(':').at(-1)));
    expect(published).toEqual([port]);
    const check = list(obj(app.healthcheck, 'healthcheck').test).join(' ');
    const url = new URL(/https?:\/\/[^'"\s)]+/.exec(check)![0]);
    expect(Number(url.port)).toBe(port);
    expect(HEALTH_ROUTES.has(url.pathname)).toBe(true);
  });
});
