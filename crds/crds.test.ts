import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadAllYaml } from '@kubernetes/client-node';
import { Type } from 'typebox';
import { exampleObject, loadExamples } from '../examples/index.ts';
import { INVALID } from '../examples/invalid.ts';
import { toStructural } from './crd.ts';
import { DESTINATION_RULE_FILE } from './destination-rule.ts';
import { CRD_DIR, main, renderAll, staleFiles } from './generate.ts';
import {
  crdManifest,
  InvalidResourceError,
  isKindName,
  type JointInferenceService,
  KINDS,
  type KindName,
  kindForResourceKind,
  parseResource,
  validate,
} from './index.ts';
import { GATEWAY_FILE, VIRTUAL_SERVICE_FILE } from './istio-gateway.ts';

const examples = loadExamples();
const example = exampleObject;
const kindOf = (obj: unknown): KindName => {
  const kind = (obj as { kind: string }).kind;
  assert.ok(isKindName(kind));
  return kind;
};

test('the generated CRD YAML under crds/ is current', () => {
  const stale = staleFiles(CRD_DIR, renderAll());
  assert.deepEqual(stale, [], `stale CRD files: ${stale.join(', ')}; run \`node crds/generate.ts\` and commit them`);
});

test('every manifest under crds/ is a CustomResourceDefinition, so `kubectl apply -R -f crds/` installs only CRDs', () => {
  // What kubectl's recursive apply reads: .yaml, .yml and .json files in every subfolder.
  const files = readdirSync(CRD_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.deepEqual(
    files.sort(),
    [
      ...KINDS.map((k) => `sedna.io_${k.plural}.yaml`),
      DESTINATION_RULE_FILE,
      GATEWAY_FILE,
      VIRTUAL_SERVICE_FILE,
    ].sort(),
  );
  for (const f of files) {
    const docs = loadAllYaml(readFileSync(join(CRD_DIR, f), 'utf8')) as Array<{ apiVersion?: string; kind?: string }>;
    assert.ok(docs.length > 0, `${f} has a document`);
    for (const d of docs) {
      assert.deepEqual([d.apiVersion, d.kind], ['apiextensions.k8s.io/v1', 'CustomResourceDefinition'], f);
    }
  }
});

test('generate --check fails on missing, edited and unexpected files, and passes after a run', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'crds-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const out = (l: string) => lines.push(l);
  assert.equal(main(['--check'], dir, out), 1);
  assert.equal(lines.filter((l) => l.includes('crds/sedna.io_')).length, KINDS.length);
  assert.equal(main([], dir, out), 0);
  assert.equal(main(['--check'], dir, out), 0);
  writeFileSync(join(dir, 'sedna.io_models.yaml'), '# edited\n');
  writeFileSync(join(dir, 'sedna.io_oldkinds.yaml'), '# a kind that is gone\n');
  assert.deepEqual(staleFiles(dir, renderAll()), ['sedna.io_models.yaml', 'sedna.io_oldkinds.yaml']);
  assert.equal(main(['--check'], dir, out), 1);
  assert.equal(main([], dir, out), 0);
  assert.deepEqual(staleFiles(dir, renderAll()), []);
  assert.equal(main(['--chek'], dir, out), 2);
});

test('node crds/generate.ts --check exits 0 on this tree', () => {
  execFileSync(process.execPath, [join(CRD_DIR, 'generate.ts'), '--check'], { stdio: 'pipe' });
});

test('every kind has at least one example', () => {
  const kinds = new Set(examples.map((e) => e.object.kind));
  for (const k of KINDS) assert.ok(kinds.has(k.kind), `no example of ${k.kind}`);
});

for (const e of examples) {
  test(`example ${e.file} ${e.id} validates`, () => {
    const r = validate(kindOf(e.object), e.object);
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
  });
}

for (const c of INVALID) {
  test(`rejected: ${c.name}`, () => {
    const r = validate(c.kind, c.obj());
    assert.ok(!r.ok, 'accepted');
    assert.ok(
      r.issues.some((i) => i.path === c.path && i.keyword === c.keyword),
      `expected ${c.keyword} at ${c.path}, got ${JSON.stringify(r.issues)}`,
    );
  });
}

test('parseResource throws InvalidResourceError with every issue', () => {
  const bad = { metadata: { name: 'd' }, spec: { url: 1 } };
  assert.throws(
    () => parseResource('Dataset', bad),
    (err: unknown) => {
      assert.ok(err instanceof InvalidResourceError);
      assert.equal(err.code, 'ERR_INVALID_RESOURCE');
      assert.deepEqual(err.issues.map((i) => i.path).sort(), ['spec.format', 'spec.nodeName', 'spec.url']);
      return true;
    },
  );
});

test('nulls from Go clients count as absent in declared fields and stay inside pod templates', () => {
  // What Sedna's GM sends: zero metav1.Time as null, nil pointer without omitempty as null.
  const job = example('JointInferenceService/helmet-detection-inference-example') as unknown as JointInferenceService;
  (job.spec.edgeWorker as Record<string, unknown>).hpa = null;
  job.spec.edgeWorker.template.metadata = { creationTimestamp: null } as never;
  job.status = {
    active: 1,
    failed: 0,
    conditions: [{ type: 'Running', status: 'True', lastHeartbeatTime: null, lastTransitionTime: null } as never],
  };
  const before = structuredClone(job);
  const r = validate('JointInferenceService', job);
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
  assert.equal('hpa' in r.value.spec.edgeWorker, false);
  assert.deepEqual(r.value.status?.conditions?.[0], { type: 'Running', status: 'True' });
  assert.deepEqual(r.value.spec.edgeWorker.template.metadata, { creationTimestamp: null });
  assert.deepEqual(job, before, 'the input is not modified');
  // A null in a required field is as missing as the API server says.
  const ds = { metadata: { name: 'd' }, spec: { url: null, format: 'txt', nodeName: 'n' } };
  const rd = validate('Dataset', ds);
  assert.ok(!rd.ok);
  assert.deepEqual(
    rd.issues.map((i) => [i.path, i.keyword]),
    [['spec.url', 'required']],
  );
});

test('statuses as Sedna writes them validate', () => {
  const cases: Array<[KindName, string, unknown]> = [
    ['Dataset', 'Dataset/incremental-dataset', { numberOfSamples: 0, updateTime: '2021-06-01T10:00:00Z' }],
    ['Model', 'Model/deploy-model', { metrics: [{ key: 'precision', value: '0.92' }] }],
    [
      'FederatedLearningJob',
      'FederatedLearningJob/surface-defect-detection',
      {
        phase: 'Running',
        active: 3,
        succeeded: 0,
        failed: 0,
        startTime: '2021-06-01T10:00:00Z',
        conditions: [{ type: 'Training', status: 'True', lastProbeTime: null, lastHeartbeatTime: null }],
      },
    ],
    [
      'IncrementalLearningJob',
      'IncrementalLearningJob/helmet-detection-demo',
      {
        startTime: '2021-06-01T10:00:00Z',
        conditions: [
          { type: 'Waiting', status: 'True', stage: 'Train', lastHeartbeatTime: '2021-06-01T10:00:00Z' },
          { type: 'Ready', status: 'True', stage: 'Train', data: '{"input":{"dataURL":"/data/x.txt"}}' },
        ],
      },
    ],
    [
      'LifelongLearningJob',
      'LifelongLearningJob/robo-dog-delivery',
      {
        knowledgeBase: {
          AIModels: { numberOfAIModels: 0 },
          AIClasses: { numberOfAIClasses: 0 },
          samples: { numberOfLabeledUnseenSample: 0, numberOfUnseenSample: 0 },
        },
      },
    ],
  ];
  for (const [kind, id, status] of cases) {
    const r = validate(kind, { ...example(id), status });
    assert.ok(r.ok, `${kind}: ${r.ok ? '' : JSON.stringify(r.issues)}`);
  }
});

test('each CRD names its kind as Sedna does and adds printer columns and the sedna category', () => {
  const sednaShortNames: Record<string, string[] | undefined> = {
    JointInferenceService: ['ji'],
    FederatedLearningJob: ['fl'],
    IncrementalLearningJob: ['il'],
    LifelongLearningJob: ['ll'],
  };
  for (const k of KINDS) {
    const crd = crdManifest(k.kind);
    assert.equal(crd.metadata?.name, `${k.plural}.sedna.io`);
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.deepEqual(crd.spec.names.shortNames, sednaShortNames[k.kind]);
    assert.deepEqual(crd.spec.names.categories, ['sedna']);
    assert.equal(crd.spec.names.singular, k.kind.toLowerCase());
    assert.equal(kindForResourceKind(k.kind.toLowerCase())?.kind, k.kind);
    assert.equal(kindForResourceKind(k.kind.toUpperCase())?.kind, k.kind);
    const [v] = crd.spec.versions;
    assert.ok(v);
    assert.equal(v.name, 'v1alpha1');
    assert.deepEqual(v.subresources?.status, {});
    assert.equal(v.additionalPrinterColumns?.at(-1)?.name, 'Age');
    const root = v.schema?.openAPIV3Schema;
    // The API server owns metadata's schema; a CRD may not constrain it beyond name/generateName.
    assert.deepEqual({ ...root?.properties?.metadata }, { type: 'object' });
    assert.deepEqual(root?.required, ['spec']);
  }
  assert.equal(kindForResourceKind('objectsearchservice'), undefined);
});

test('pod templates are opaque objects in the CRD', () => {
  const crd = crdManifest('FederatedLearningJob');
  const spec = crd.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec;
  // client-node keeps `items` in wire form, so the flag keeps its wire name there.
  const template = spec?.properties?.trainingWorkers?.items.properties.template;
  assert.equal(template.type, 'object');
  assert.equal(template['x-kubernetes-preserve-unknown-fields'], true);
  assert.equal(spec?.properties?.aggregationWorker?.properties?.template?.x_kubernetes_preserve_unknown_fields, true);
});

test('the structural conversion refuses what a CRD schema cannot express', () => {
  const union = Type.Object({ a: Type.Union([Type.String(), Type.Number()]) });
  assert.throws(() => toStructural(union as never), /keyword "anyOf" at \.a/);
  const untyped = Type.Object({ a: Type.Unknown() });
  assert.throws(() => toStructural(untyped as never), /at \.a has no type/);
  const map = Type.Object({ a: Type.Record(Type.String(), Type.String()) });
  assert.throws(() => toStructural(map as never), /keyword "patternProperties"/);
});
