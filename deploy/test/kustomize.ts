import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * A tiny renderer for the subset of kustomize that deploy/k8s uses, so the
 * tests can check what `kubectl apply -k` would apply without kustomize:
 * `resources` (files, or folders holding a kustomization.yaml), `namespace`,
 * `labels` (pairs added to every object's metadata; `includeSelectors` and
 * `includeTemplates` are not supported and refused), `images` (name →
 * newName/newTag), `replicas` (name → count, on Deployments) and `patches`
 * given inline as JSON 6902 operations (add, replace, remove) with a
 * `target` of kind and name. Anything else in a kustomization is an error,
 * so a file that starts using more of kustomize fails here first.
 */

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are untyped data, checked by the model classes.
  [key: string]: any;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'labels', 'images', 'replicas', 'patches']);

type JsonValue = unknown;
interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: JsonValue;
}

export function readYamlObjects(file: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value !== null) objects.push(value);
  }
  return objects;
}

/** The objects `kubectl apply -k <dir>` would apply, for the subset above. */
export function renderKustomization(dir: string): K8sObject[] {
  const file = join(dir, 'kustomization.yaml');
  const [k] = readYamlObjects(file) as unknown as Array<Record<string, unknown>>;
  if (k === undefined) throw new Error(`${file} is empty`);
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) throw new Error(`${file}: "${key}" is outside the kustomize subset deploy/test renders`);
  }
  let objects: K8sObject[] = [];
  for (const entry of (k.resources as string[] | undefined) ?? []) {
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new Error(`${file}: resource ${entry} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? renderKustomization(path) : readYamlObjects(path)));
  }
  objects = structuredClone(objects);

  for (const patch of (k.patches as Array<{ target: { kind: string; name: string }; patch: string }>) ?? []) {
    const targets = objects.filter((o) => o.kind === patch.target.kind && o.metadata.name === patch.target.name);
    if (targets.length !== 1) {
      throw new Error(`${file}: a patch targets ${patch.target.kind}/${patch.target.name}, found ${targets.length}`);
    }
    const ops = parseAllDocuments(patch.patch)[0]?.toJS() as PatchOp[];
    for (const op of ops) applyPatchOp(targets[0] as K8sObject, op, file);
  }
  for (const { name, count } of (k.replicas as Array<{ name: string; count: number }>) ?? []) {
    const targets = objects.filter((o) => o.kind === 'Deployment' && o.metadata.name === name);
    if (targets.length !== 1) throw new Error(`${file}: replicas names Deployment ${name}, found ${targets.length}`);
    (targets[0] as K8sObject).spec.replicas = count;
  }
  for (const { pairs, ...rest } of (k.labels as Array<{ pairs: Record<string, string> }>) ?? []) {
    if (Object.keys(rest).length > 0) throw new Error(`${file}: labels supports "pairs" only`);
    for (const o of objects) o.metadata.labels = { ...o.metadata.labels, ...pairs };
  }
  const images = (k.images as Array<{ name: string; newName?: string; newTag?: string }>) ?? [];
  for (const o of objects) {
    for (const container of containersOf(o)) {
      const image = images.find((i) => i.name === container.image);
      if (image) container.image = `${image.newName ?? image.name}${image.newTag ? `:${image.newTag}` : ''}`;
    }
  }
  if (typeof k.namespace === 'string') for (const o of objects) o.metadata.namespace = k.namespace;
  return objects;
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  // biome-ignore lint/suspicious/noExplicitAny: manifests are untyped data.
  [key: string]: any;
}

/** The pod template of a workload (Deployment, Job), if it has one. */
// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped data.
export function podSpecOf(o: K8sObject): any {
  return o.kind === 'Deployment' || o.kind === 'Job' ? o.spec?.template?.spec : undefined;
}

export function containersOf(o: K8sObject): Container[] {
  const pod = podSpecOf(o);
  return pod ? [...(pod.initContainers ?? []), ...(pod.containers ?? [])] : [];
}

function applyPatchOp(target: K8sObject, op: PatchOp, file: string): void {
  const parts = op.path
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  const last = parts.pop();
  if (last === undefined) throw new Error(`${file}: patch path "${op.path}" is empty`);
  // biome-ignore lint/suspicious/noExplicitAny: walks untyped data.
  let parent: any = target;
  for (const part of parts) {
    parent = parent?.[part];
    if (parent === undefined) throw new Error(`${file}: patch path "${op.path}" does not exist`);
  }
  const exists = Array.isArray(parent) ? Number(last) < parent.length : last in parent;
  if (op.op === 'add') {
    if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
    else parent[last] = op.value;
  } else if (!exists) {
    throw new Error(`${file}: cannot ${op.op} "${op.path}": it does not exist`);
  } else if (op.op === 'replace') {
    parent[last] = op.value;
  } else if (op.op === 'remove') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else {
    throw new Error(`${file}: patch op "${(op as PatchOp).op}" is outside the subset (add, replace, remove)`);
  }
}

export const REPO_ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../..');
