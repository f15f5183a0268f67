import type { Env } from '../../packages/foundation/src/config.ts';
import { ENTRY_POINTS, evidenceHolds, helpOf, scriptedEntryPoints, waitListsOf } from './components.ts';
import { type Container, containersOf, type K8sObject, podSpecOf } from './kustomize.ts';

/**
 * Cross-reference checks over a rendered set of objects, each returning the
 * problems it finds (empty when all is well), so a test can show that a
 * broken manifest is caught.
 */

const LOOPBACK = /(^|[/@])(127\.0\.0\.1|localhost|\[::1\])([:/]|$)/;

/**
 * The fields of a Container and of a Probe (Kubernetes 1.3x). The schema
 * models accept unknown fields, and a misspelt probe would silently be no
 * probe, so the fields of these two are checked by name.
 */
const CONTAINER_FIELDS = new Set(
  'name image command args workingDir ports envFrom env resources resizePolicy restartPolicy volumeMounts volumeDevices livenessProbe readinessProbe startupProbe lifecycle terminationMessagePath terminationMessagePolicy imagePullPolicy securityContext stdin stdinOnce tty'.split(
    ' ',
  ),
);
const PROBE_FIELDS = new Set(
  'exec httpGet tcpSocket grpc initialDelaySeconds timeoutSeconds periodSeconds successThreshold failureThreshold terminationGracePeriodSeconds'.split(
    ' ',
  ),
);

const byKind = (objects: readonly K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function decodedSecret(o: K8sObject): Record<string, string> {
  const data: Record<string, string> = { ...(o.stringData ?? {}) };
  for (const [k, v] of Object.entries((o.data ?? {}) as Record<string, string>)) {
    data[k] = Buffer.from(v, 'base64').toString('utf8');
  }
  return data;
}

/** The environment a container gets, resolved from its ConfigMaps and Secrets; missing references are problems. */
export function containerEnv(
  container: Container,
  objects: readonly K8sObject[],
  problems: string[],
  where: string,
): Record<string, string> {
  const env: Record<string, string> = {};
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
  for (const e of container.env ?? []) {
    if (typeof e.value === 'string') env[e.name] = e.value;
    const cm = e.valueFrom?.configMapKeyRef;
    const sk = e.valueFrom?.secretKeyRef;
    if (cm) {
      const value = find('ConfigMap', cm.name)?.data?.[cm.key];
      if (value === undefined) problems.push(`${where}: ${e.name} reads ConfigMap ${cm.name} key ${cm.key}, not found`);
      else env[e.name] = value;
    }
    if (sk) {
      const secret = find('Secret', sk.name);
      const value = secret ? decodedSecret(secret)[sk.key] : undefined;
      if (value === undefined && !sk.optional) {
        problems.push(`${where}: ${e.name} reads Secret ${sk.name} key ${sk.key}, not found`);
      } else if (value !== undefined) env[e.name] = value;
    }
  }
  if (container.envFrom) problems.push(`${where}: envFrom is not used here: name each variable`);
  return env;
}

/** A process as a container starts it: its entry point and arguments. */
export interface Started {
  entry: string;
  args: string[];
}

export function startedBy(container: Container): Started | null {
  const argv = [...(container.command ?? []), ...(container.args ?? [])];
  if (argv[0] !== 'node' || argv[1] === undefined) return null;
  return { entry: argv[1], args: argv.slice(2) };
}

/**
 * One process's checks, shared by Kubernetes and compose: it starts a known
 * entry point that a package script runs, with options its --help lists; its
 * config loads from the environment it is given, with no address left at
 * loopback; its probes ask paths it serves on the port it listens on.
 */
export function checkProcess(
  where: string,
  container: Pick<Container, 'command' | 'args'>,
  env: Env,
  probes: Array<{ path: string; port: number | null }>,
): string[] {
  const problems: string[] = [];
  const started = startedBy(container as Container);
  if (!started) return [`${where}: the command must be node <entry point>, got ${JSON.stringify(container.command)}`];
  const entry = ENTRY_POINTS[started.entry];
  if (!entry) return [`${where}: ${started.entry} is not an entry point of the project`];
  if (!scriptedEntryPoints().has(started.entry)) problems.push(`${where}: no package script runs ${started.entry}`);

  const options = started.args.filter((a) => a.startsWith('--'));
  if (options.length > 0 && !entry.hasHelp) problems.push(`${where}: ${started.entry} takes no options`);
  if (options.length > 0 && entry.hasHelp) {
    const help = helpOf(started.entry, started.args);
    for (const option of options) {
      if (!new RegExp(`(^|\\s)${option}(\\s|$)`, 'm').test(help)) {
        problems.push(`${where}: ${started.entry} --help does not list ${option}`);
      }
    }
  }

  let config: Record<string, unknown> | undefined;
  try {
    config = entry.config(env, started.args);
  } catch (err) {
    problems.push(`${where}: ${started.entry} refuses its environment: ${(err as Error).message.replace(/\s+/g, ' ')}`);
  }
  if (config) {
    for (const name of entry.uses(started.args)) {
      const value = config[name];
      if (value === undefined) problems.push(`${where}: ${name} is not set`);
      else if (typeof value === 'string' && LOOPBACK.test(value)) {
        problems.push(`${where}: ${name} points at loopback (${value}): set it`);
      } else if (name.endsWith('HOST') && value !== '0.0.0.0') {
        problems.push(`${where}: ${name} must be 0.0.0.0 in a container, got ${String(value)}`);
      }
    }
  }

  const port = entry.listenPort(env, started.args);
  for (const probe of probes) {
    const evidence = entry.serves[probe.path];
    if (!evidence) problems.push(`${where}: probes ${probe.path}, which ${started.entry} does not serve`);
    else if (!evidenceHolds(evidence))
      problems.push(`${where}: ${evidence.file} no longer holds "${evidence.contains}"`);
    if (port === null) problems.push(`${where}: probes ${probe.path} but ${started.entry} listens on no port here`);
    else if (probe.port !== port) problems.push(`${where}: probes port ${probe.port}, the process listens on ${port}`);
  }
  return problems;
}

/** Every workload's containers, checked as processes. */
export function checkWorkloads(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const pod = podSpecOf(o);
    if (!pod) continue;
    if (pod.securityContext?.runAsNonRoot !== true) problems.push(`${o.kind}/${o.metadata.name}: runAsNonRoot`);
    for (const c of containersOf(o)) {
      const where = `${o.kind}/${o.metadata.name} container ${c.name}`;
      for (const field of Object.keys(c)) {
        if (!CONTAINER_FIELDS.has(field)) problems.push(`${where}: unknown field ${field}`);
      }
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        for (const field of Object.keys(c[probe] ?? {})) {
          if (!PROBE_FIELDS.has(field)) problems.push(`${where}: ${probe} has an unknown field ${field}`);
        }
      }
      const env = containerEnv(c, objects, problems, where);
      const ports = new Map<string, number>(
        (c.ports ?? []).map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
      );
      const probes: Array<{ path: string; port: number | null }> = [];
      for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const get = c[kind]?.httpGet;
        if (!get) continue;
        const port = typeof get.port === 'number' ? get.port : (ports.get(get.port) ?? null);
        if (port === null) problems.push(`${where}: ${kind} names port ${get.port}, which the container lacks`);
        probes.push({ path: get.path, port });
      }
      problems.push(...checkProcess(where, c, env, probes));
      const started = startedBy(c);
      if (started && o.kind === 'Deployment' && started.entry !== 'migrations/src/cli/migrate.ts') {
        if (env.NODE_ENV !== 'production') problems.push(`${where}: NODE_ENV must be production`);
      }
      for (const r of ['requests', 'limits']) {
        if (!c.resources?.[r]?.cpu || !c.resources?.[r]?.memory) problems.push(`${where}: resources.${r} cpu/memory`);
      }
      if (c.securityContext?.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation`);
    }
  }
  return problems;
}

/** Services select a Deployment's pods and name one of its ports; in-cluster http URLs name a Service and its port. */
export function checkServices(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const deployments = byKind(objects, 'Deployment');
  const services = byKind(objects, 'Service');
  for (const s of services) {
    const selected = deployments.filter((d) => matches(s.spec.selector, d.spec.template.metadata.labels));
    if (selected.length === 0) problems.push(`Service/${s.metadata.name}: its selector matches no Deployment's pods`);
    for (const port of s.spec.ports ?? []) {
      for (const d of selected) {
        const named = containersOf(d).some((c) =>
          (c.ports ?? []).some((p: { name: string; containerPort: number }) =>
            typeof port.targetPort === 'string' ? p.name === port.targetPort : p.containerPort === port.targetPort,
          ),
        );
        if (!named)
          problems.push(
            `Service/${s.metadata.name}: targetPort ${port.targetPort} is not a port of ${d.metadata.name}`,
          );
      }
    }
  }
  for (const cm of byKind(objects, 'ConfigMap')) {
    for (const [key, value] of Object.entries((cm.data ?? {}) as Record<string, string>)) {
      const url = /^https?:\/\/([a-z0-9-]+):(\d+)/.exec(value);
      if (!url) continue;
      const service = services.find((s) => s.metadata.name === url[1]);
      if (!service) problems.push(`ConfigMap/${cm.metadata.name} ${key}: no Service named ${url[1]}`);
      else if (!service.spec.ports.some((p: { port: number }) => p.port === Number(url[2]))) {
        problems.push(`ConfigMap/${cm.metadata.name} ${key}: Service ${url[1]} has no port ${url[2]}`);
      }
    }
  }
  for (const pdb of byKind(objects, 'PodDisruptionBudget')) {
    const d = deployments.find((x) => matches(pdb.spec.selector.matchLabels, x.spec.template.metadata.labels));
    if (!d) {
      problems.push(`PodDisruptionBudget/${pdb.metadata.name}: selects no Deployment's pods`);
      continue;
    }
    const hpa = byKind(objects, 'HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === d.metadata.name);
    const least = Math.max(d.spec.replicas ?? 1, hpa?.spec.minReplicas ?? 0);
    if (pdb.spec.minAvailable !== undefined && pdb.spec.minAvailable >= least) {
      problems.push(
        `PodDisruptionBudget/${pdb.metadata.name}: minAvailable ${pdb.spec.minAvailable} of ${least} blocks drains`,
      );
    }
  }
  return problems;
}

/**
 * Autoscalers target Deployments that exist; the HPA's have CPU requests; the
 * KEDA triggers read the wait lists the sync engine's BullMQ queues use (with
 * the queue prefix the scaled workers get), and scale apply workers, never a
 * relay-only one; every context has relays and apply workers.
 */
export function checkScaling(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const deployments = byKind(objects, 'Deployment');
  const find = (name: string) => deployments.find((d) => d.metadata.name === name);
  const scaled = [
    ...byKind(objects, 'HorizontalPodAutoscaler').map((h) => h.spec.scaleTargetRef.name as string),
    ...byKind(objects, 'ScaledObject').map((s) => s.spec.scaleTargetRef.name as string),
  ];
  for (const name of scaled) {
    if (find(name)?.spec.replicas !== undefined) {
      problems.push(`Deployment/${name}: sets replicas, which every apply would reset under its autoscaler`);
    }
  }
  for (const hpa of byKind(objects, 'HorizontalPodAutoscaler')) {
    const d = find(hpa.spec.scaleTargetRef.name);
    if (!d)
      problems.push(`HorizontalPodAutoscaler/${hpa.metadata.name}: no Deployment ${hpa.spec.scaleTargetRef.name}`);
    else if (containersOf(d).some((c) => !c.resources?.requests?.cpu)) {
      problems.push(`HorizontalPodAutoscaler/${hpa.metadata.name}: scales on CPU, but a container has no CPU request`);
    }
  }
  for (const so of byKind(objects, 'ScaledObject')) {
    const where = `ScaledObject/${so.metadata.name}`;
    const d = find(so.spec.scaleTargetRef.name);
    const container = d ? containersOf(d)[0] : undefined;
    const started = container ? startedBy(container) : null;
    if (!d || !container || started?.entry !== 'migrations/src/cli/sync-worker.ts') {
      problems.push(`${where}: its target is not a sync worker Deployment`);
      continue;
    }
    const role = started.args.includes('--role') ? started.args[started.args.indexOf('--role') + 1] : 'all';
    if (role === 'relay') problems.push(`${where}: scales relays; the queue depth is the apply workers' signal`);
    if (role === 'all' && (so.spec.minReplicaCount ?? 0) < 1) {
      problems.push(`${where}: at zero no relay fills the queue, so it never scales up: minReplicaCount >= 1`);
    }
    const env = containerEnv(container, objects, problems, where);
    const context = started.args[0] ?? '';
    const expected = waitListsOf(context, env.SYNC_QUEUE_PREFIX).sort();
    const lists = (so.spec.triggers ?? [])
      .filter((t: { type: string }) => t.type === 'redis')
      .map((t: { metadata: { listName: string } }) => t.metadata.listName)
      .sort();
    if (JSON.stringify(lists) !== JSON.stringify(expected)) {
      problems.push(`${where}: lists ${lists.join(', ')}; the code's wait lists are ${expected.join(', ')}`);
    }
    for (const t of so.spec.triggers ?? []) {
      const auth = byKind(objects, 'TriggerAuthentication').find((a) => a.metadata.name === t.authenticationRef?.name);
      if (!auth) problems.push(`${where}: TriggerAuthentication ${t.authenticationRef?.name} not found`);
    }
  }
  for (const auth of byKind(objects, 'TriggerAuthentication')) {
    const values: Record<string, string> = {};
    for (const ref of auth.spec.secretTargetRef ?? []) {
      const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === ref.name);
      const value = secret ? decodedSecret(secret)[ref.key] : undefined;
      if (value === undefined)
        problems.push(`TriggerAuthentication/${auth.metadata.name}: no Secret ${ref.name} key ${ref.key}`);
      else values[ref.parameter] = value;
      // The scaler's address and password must be the Redis of REDIS_URL, in that same Secret.
      const redisUrl = secret ? decodedSecret(secret).REDIS_URL : undefined;
      if (redisUrl && value !== undefined) {
        const url = new URL(redisUrl);
        const want =
          ref.parameter === 'address' ? `${url.hostname}:${url.port || 6379}` : decodeURIComponent(url.password);
        if (['address', 'password'].includes(ref.parameter) && value !== want) {
          problems.push(`TriggerAuthentication/${auth.metadata.name}: ${ref.parameter} is not REDIS_URL's (${want})`);
        }
      }
    }
  }
  const sync = deployments.flatMap((d) => {
    const s = containersOf(d)[0] ? startedBy(containersOf(d)[0] as Container) : null;
    if (s?.entry !== 'migrations/src/cli/sync-worker.ts') return [];
    const role = s.args.includes('--role') ? s.args[s.args.indexOf('--role') + 1] : 'all';
    return [{ context: s.args[0], role, replicas: d.spec.replicas ?? 1 }];
  });
  for (const context of ['users', 'products']) {
    const roles = sync.filter((s) => s.context === context && s.replicas > 0).map((s) => s.role);
    if (!roles.includes('all') && !(roles.includes('relay') && roles.includes('apply'))) {
      problems.push(`the ${context} context needs relays and apply workers running, has ${roles.join(', ') || 'none'}`);
    }
  }
  return problems;
}
