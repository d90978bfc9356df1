import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { k8sValidName } from './sedna.ts';
import { injectStorage, type WorkerMount } from './storage.ts';

// biome-ignore lint/suspicious/noExplicitAny: pod specs are JSON.
type Json = any;
const spec = (): Json => ({ containers: [{ name: 'w', env: [{ name: 'A', value: '1' }] }] });

describe('Sedna storage injection', () => {
  const cases: {
    name: string;
    mounts: WorkerMount[];
    env: Record<string, string>;
    volumes?: Json[];
    mountsInWorker?: Json[];
    initArgs?: string[];
    initMounts?: Json[];
    prefixEnv: boolean;
  }[] = [
    {
      name: 'a host file: its directory mounted under /home/data',
      mounts: [{ urls: [{ url: '/data/big-model/m.pb', downloadByInitializer: true }], envName: 'MODEL_URL' }],
      env: { MODEL_URL: '/home/data/data/big-model/m.pb' },
      volumes: [{ name: 'data-big-modelz', hostPath: { path: '/data/big-model/', type: 'Directory' } }],
      mountsInWorker: [{ name: 'data-big-modelz', mountPath: '/home/data/data/big-model/' }],
      prefixEnv: true,
    },
    {
      name: 'a file in / gets the default volume name',
      mounts: [{ urls: [{ url: '/model' }], envName: 'MODEL_URL' }],
      env: { MODEL_URL: '/home/data/model' },
      volumes: [{ name: 'sedna-default-volume-name', hostPath: { path: '/', type: 'Directory' } }],
      mountsInWorker: [{ name: 'sedna-default-volume-name', mountPath: '/home/data/' }],
      prefixEnv: true,
    },
    {
      name: 'an s3 URL is downloaded by the storage initializer into /downloads',
      mounts: [{ urls: [{ url: 's3://bucket/models/m.pb', downloadByInitializer: true }], envName: 'MODEL_URL' }],
      env: { MODEL_URL: '/downloads/bucket/models/m.pb' },
      volumes: [{ name: 'sedna-storage-initializer', emptyDir: {} }],
      mountsInWorker: [{ name: 'sedna-storage-initializer', mountPath: '/downloads', readOnly: true }],
      initArgs: ['s3://bucket/models/m.pb', '/downloads/bucket/models/'],
      prefixEnv: false,
    },
    {
      name: 'an s3 URL not to download is passed as it is',
      mounts: [{ urls: [{ url: 's3://bucket/out' }], envName: 'OUTPUT_URL' }],
      env: { OUTPUT_URL: 's3://bucket/out' },
      prefixEnv: false,
    },
    {
      name: 'several URLs join with ;',
      mounts: [
        {
          urls: [
            { url: 'https://h:8080/a/m1.pb', downloadByInitializer: true },
            { url: '/models/m2.pb', downloadByInitializer: true },
          ],
          envName: 'MODEL_URLS',
        },
      ],
      env: { MODEL_URLS: '/downloads/h:8080/a/m1.pb;/home/data/models/m2.pb' },
      initArgs: ['https://h:8080/a/m1.pb', '/downloads/h:8080/a/'],
      prefixEnv: true,
    },
    {
      name: 'an indirect host index is mounted for the initializer and downloaded with its entries',
      mounts: [
        {
          urls: [{ url: '/data/idx/index.txt', downloadByInitializer: true, indirect: true }],
          envName: 'ORIGINAL_DATASET_URL',
        },
      ],
      env: { ORIGINAL_DATASET_URL: '/downloads/data/idx/index.txt' },
      initArgs: ['/home/data/data/idx/index.txt', '@/downloads/data/idx/'],
      initMounts: [
        { name: 'sedna-storage-initializer', mountPath: '/downloads' },
        { name: 'data-idxz', mountPath: '/home/data/data/idx/' },
      ],
      prefixEnv: false,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const s = spec();
      const env = injectStorage(s, c.mounts);
      assert.deepEqual(env, c.env);
      if (c.volumes) assert.deepEqual(s.volumes, c.volumes);
      if (c.mountsInWorker) assert.deepEqual(s.containers[0].volumeMounts, c.mountsInWorker);
      if (c.initArgs) {
        assert.equal(s.initContainers.length, 1);
        assert.equal(s.initContainers[0].name, 'storage-initializer');
        assert.deepEqual(s.initContainers[0].args, c.initArgs);
      } else assert.equal(s.initContainers, undefined);
      if (c.initMounts) assert.deepEqual(s.initContainers[0].volumeMounts, c.initMounts);
      const prefix = s.containers[0].env.find((e: { name: string }) => e.name === 'DATA_PATH_PREFIX');
      assert.equal(prefix?.value, c.prefixEnv ? '/home/data' : undefined);
      assert.deepEqual(s.containers[0].env[0], { name: 'A', value: '1' }, 'template env first');
    });
  }
});

test("Sedna's ConvertK8SValidName", () => {
  const cases: [string, string][] = [
    ['/data/big-model/', 'data-big-modelz'],
    ['/', ''],
    ['sedna-model-hot-update-volume', 'sedna-model-hot-update-volume'],
    ['A_B..C', 'a-b-c'],
    ['x'.repeat(70), 'x'.repeat(63)],
  ];
  for (const [input, want] of cases) assert.equal(k8sValidName(input), want, input);
});
