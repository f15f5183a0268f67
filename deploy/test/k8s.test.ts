import { join } from 'node:path';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { checkScaling, checkServices, checkWorkloads } from './checks.ts';
import { containersOf, type K8sObject, REPO_ROOT, readYamlObjects, renderKustomization } from './kustomize.ts';

/**
 * deploy/k8s rendered as `kubectl apply -k` would (deploy/test/kustomize.ts),
 * each object validated offline against the Kubernetes and KEDA OpenAPI
 * schemas, then checked against the code: commands, environments, probes,
 * Services, autoscalers and the queue names KEDA reads.
 */

const K8S = join(REPO_ROOT, 'deploy/k8s');

// biome-ignore lint/suspicious/noExplicitAny: each model class takes its own typed object.
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
};

function schemaProblems(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    if (!Model) {
      problems.push(`${o.apiVersion}/${o.kind} ${o.metadata.name}: no schema to validate it with`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (err) {
      problems.push(`${o.kind}/${o.metadata.name}: ${(err as Error).message}`);
    }
  }
  return problems;
}

const allChecks = (objects: readonly K8sObject[]) => [
  ...schemaProblems(objects),
  ...checkWorkloads(objects),
  ...checkServices(objects),
  ...checkScaling(objects),
];

const dev = () => renderKustomization(join(K8S, 'overlays/dev'));
/** Production with the Secrets an operator creates from secrets.example.yaml. */
const production = () => [
  ...renderKustomization(join(K8S, 'overlays/production')),
  ...readYamlObjects(join(K8S, 'overlays/production/secrets.example.yaml')),
];

const find = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} not rendered`);
  return o;
};

describe('the Kubernetes overlays', () => {
  for (const [name, render] of [
    ['dev', dev],
    ['production', production],
  ] as const) {
    it(`${name}: every object is valid and agrees with the code`, () => {
      const objects = render();
      expect(objects.length).toBeGreaterThan(20);
      expect(allChecks(objects)).toEqual([]);
    });
  }

  it('render the namespace, the image, the replicas and the patches of each overlay', () => {
    const d = dev();
    const p = production();
    expect(new Set(d.map((o) => o.metadata.namespace))).toEqual(new Set(['strangler-dev']));
    expect(new Set(p.filter((o) => o.kind !== 'Secret').map((o) => o.metadata.namespace))).toEqual(
      new Set(['strangler']),
    );
    const images = (objects: K8sObject[]) => new Set(objects.flatMap((o) => containersOf(o).map((c) => c.image)));
    expect(images(d)).toEqual(new Set(['strangler:dev']));
    expect(images(p)).toEqual(new Set(['registry.example.com/strangler:0.1.0']));
    expect(find(d, 'Deployment', 'monolith').spec.replicas).toBe(1);
    expect(find(d, 'HorizontalPodAutoscaler', 'edge-router').spec.minReplicas).toBe(1);
    expect(find(d, 'PodDisruptionBudget', 'edge-router').spec).not.toHaveProperty('minAvailable');
    expect(find(p, 'Deployment', 'sync-users-relay').spec.replicas).toBe(2);
    expect(find(p, 'ConfigMap', 'strangler-config').data.LOG_LEVEL).toBe('warn');
    expect(find(p, 'Deployment', 'monolith').metadata.labels).toMatchObject({
      'app.kubernetes.io/part-of': 'strangler',
      'app.kubernetes.io/instance': 'strangler',
    });
  });

  it('KEDA reads the BullMQ wait list of each sync channel', () => {
    const lists = find(dev(), 'ScaledObject', 'sync-users-apply').spec.triggers.map(
      (t: { metadata: { listName: string } }) => t.metadata.listName,
    );
    expect(lists).toEqual(['strangler:sync-users-forward:wait', 'strangler:sync-users-reverse:wait']);
  });

  // The checks above must be able to fail: each case breaks one thing and expects the problem named.
  const broken: Array<[string, (objects: K8sObject[]) => void, RegExp]> = [
    [
      'a field of the wrong type',
      (o) => {
        find(o, 'Deployment', 'monolith').spec.replicas = 'two';
      },
      /Deployment\/monolith: .*replicas must be integer/,
    ],
    [
      'a misspelt probe, which the schema alone lets through',
      (o) => {
        const c = containersOf(find(o, 'Deployment', 'monolith'))[0];
        if (c) {
          c.livenessProb = c.livenessProbe;
          delete c.livenessProbe;
        }
      },
      /Deployment\/monolith container monolith: unknown field livenessProb/,
    ],
    [
      'a Service whose selector matches no pods',
      (o) => {
        find(o, 'Service', 'users-service').spec.selector['app.kubernetes.io/component'] = 'users';
      },
      /Service\/users-service: its selector matches no Deployment's pods/,
    ],
    [
      'a secret the code requires in production left out',
      (o) => {
        const c = containersOf(find(o, 'Deployment', 'edge-router'))[0];
        if (c) c.env = c.env.filter((e: { name: string }) => e.name !== 'JWT_SECRET');
      },
      /edge-router .*refuses its environment: .*JWT_SECRET must be set in production/,
    ],
    [
      'a database URL left to its loopback default',
      (o) => {
        const c = containersOf(find(o, 'Deployment', 'sync-products-apply'))[0];
        if (c) c.env = c.env.filter((e: { name: string }) => e.name !== 'PRODUCTS_DATABASE_URL');
      },
      /sync-products-apply container sync: PRODUCTS_DATABASE_URL points at loopback/,
    ],
    [
      'a Secret key that does not exist',
      (o) => {
        delete find(o, 'Secret', 'strangler-secrets').stringData.INTERNAL_API_TOKEN;
      },
      /products-service .*INTERNAL_API_TOKEN reads Secret strangler-secrets key INTERNAL_API_TOKEN, not found/,
    ],
    [
      'a probe path the process does not serve',
      (o) => {
        const c = containersOf(find(o, 'Deployment', 'guard'))[0];
        if (c) c.readinessProbe.httpGet.path = '/ready';
      },
      /guard .*probes \/ready, which migrations\/src\/cli\/strangler.ts does not serve/,
    ],
    [
      'a probe on another port than the process listens on',
      (o) => {
        const c = containersOf(find(o, 'Deployment', 'users-service'))[0];
        const port = c?.env.find((e: { name: string }) => e.name === 'PORT');
        if (port) port.value = '3005';
      },
      /users-service .*probes port 3001, the process listens on 3005/,
    ],
    [
      'a command that is no entry point',
      (o) => {
        const c = containersOf(find(o, 'Deployment', 'monolith'))[0];
        if (c) c.command = ['node', 'monolith/src/app.ts'];
      },
      /monolith\/src\/app.ts is not an entry point/,
    ],
    [
      'an option the entry point does not have',
      (o) => {
        const c = containersOf(find(o, 'Deployment', 'guard'))[0];
        if (c) c.command = [...(c.command ?? []), '--metrics-path', '/m'];
      },
      /--help does not list --metrics-path/,
    ],
    [
      'a KEDA list name the code does not use',
      (o) => {
        find(o, 'ScaledObject', 'sync-users-apply').spec.triggers[0].metadata.listName = 'bull:sync-users-forward:wait';
      },
      /ScaledObject\/sync-users-apply: lists .*bull:sync-users-forward:wait/,
    ],
    [
      'a queue prefix the triggers do not follow',
      (o) => {
        find(o, 'ConfigMap', 'strangler-config').data.SYNC_QUEUE_PREFIX = 'shopco';
      },
      /the code's wait lists are shopco:sync-products-forward:wait/,
    ],
    [
      'a URL naming no Service',
      (o) => {
        find(o, 'ConfigMap', 'strangler-config').data.MONOLITH_URL = 'http://shopco:3000';
      },
      /MONOLITH_URL: no Service named shopco/,
    ],
    [
      'a PDB that blocks every drain',
      (o) => {
        find(o, 'PodDisruptionBudget', 'edge-router').spec = {
          minAvailable: 1,
          selector: find(o, 'PodDisruptionBudget', 'edge-router').spec.selector,
        };
      },
      /PodDisruptionBudget\/edge-router: minAvailable 1 of 1 blocks drains/,
    ],
    [
      'replicas on a Deployment an autoscaler owns',
      (o) => {
        find(o, 'Deployment', 'sync-products-apply').spec.replicas = 1;
      },
      /Deployment\/sync-products-apply: sets replicas, which every apply would reset/,
    ],
    [
      'KEDA pointed at another Redis than REDIS_URL',
      (o) => {
        find(o, 'Secret', 'strangler-datastores').stringData.REDIS_ADDRESS = 'redis-other:6379';
      },
      /address is not REDIS_URL's \(redis:6379\)/,
    ],
  ];
  for (const [what, breakIt, expected] of broken) {
    it(`catch ${what}`, () => {
      const objects = dev();
      breakIt(objects);
      const problems = allChecks(objects);
      expect(
        problems.some((p) => expected.test(p)),
        problems.join('\n'),
      ).toBe(true);
    });
  }

  it('the loader refuses kustomize features outside its subset', () => {
    expect(() => renderKustomization(join(REPO_ROOT, 'deploy/test/fixtures/unsupported'))).toThrow(
      /"configMapGenerator" is outside the kustomize subset/,
    );
  });
});
