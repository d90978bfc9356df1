/**
 * Constants of the GM operators, each with its reason. Sedna's own values (ports, env names,
 * defaults) are facts from kubeedge/sedna's pkg/globalmanager and keep worker images working unchanged.
 */

/** fieldManager of every server-side apply: one name for all replicas, so a new leader owns what the old one wrote. */
export const FIELD_MANAGER = 'fedmesh-gm';

/** sha256 (hex, 16 chars) of the desired object we last applied: equal hash = nothing to write. */
export const HASH_ANNOTATION = 'fedmesh.io/applied-hash';
/** `<replica id>/<term>` of the replica whose guarded write produced this version (attribution for tests and people). */
export const WRITER_ANNOTATION = 'fedmesh.io/written-by';
/** Generation of the owning job a pod was built from (pods are immutable: a newer generation replaces them). */
export const GENERATION_ANNOTATION = 'fedmesh.io/owner-generation';

/**
 * Per-key retry backoff: 5 ms doubling to 5 min. A small base keeps optimistic-concurrency conflicts
 * (status written by the hub meanwhile) cheap; the cap bounds the wait for a dependency that appears
 * later (its own watch event re-enqueues the key at once anyway). Sedna uses 10 s .. 360 s.
 */
export const DEFAULT_BASE_BACKOFF_MS = 5;
export const DEFAULT_MAX_BACKOFF_MS = 5 * 60_000;

/** Concurrent reconciles (all kinds share them). Writes are I/O-bound on the API server, not CPU. */
export const DEFAULT_WORKERS = 4;

/**
 * Every primary is reconciled again this often even without events (anti-entropy, as Sedna's
 * informer resync of 30 s). Reconciles that find nothing to change write nothing.
 */
export const DEFAULT_RESYNC_MS = 5 * 60_000;

/* List page size, watch timeouts and informer retry delays: common/kube/informer.ts. */

// --- Sedna facts ---

/** Port of the joint inference cloud worker (big model) and its Service `<name>-cloud`. */
export const BIG_MODEL_PORT = 5000;
/** Port of the federated learning aggregation worker and its Service `<name>-aggregation`. */
export const AGG_PORT = 7363;
/** Sedna GM config defaults `lc.server` and `knowledgeBaseServer.server`, passed to workers. */
export const DEFAULT_LC_SERVER = 'http://localhost:9100';
export const DEFAULT_KB_SERVER = 'http://localhost:9020';
/** Annotation prefix for the node a stage ran on (`sedna.io/Train`, ...), read by the hub for routing. */
export const STAGE_NODE_ANNOTATION_PREFIX = 'sedna.io/';
/** Edgemesh service-mapping label Sedna puts on Deployments. */
export const APP_LABEL = 'app.sedna.io';

/** Sedna's storage initializer: downloads s3/http(s) URLs into an emptyDir before the worker starts. */
export const STORAGE_INITIALIZER = {
  container: 'storage-initializer',
  image: 'kubeedge/sedna-storage-initializer:v0.3.0',
  volume: 'sedna-storage-initializer',
  prefix: '/downloads',
  schemes: ['s3', 'http', 'https'],
  indirectMark: '@',
  indirectMarkEnv: 'INDIRECT_URL_MARK',
} as const;
/** Host paths are mounted under this prefix in the worker; the prefix is passed as DATA_PATH_PREFIX. */
export const HOST_PATH_PREFIX = '/home/data';
export const HOST_PATH_PREFIX_ENV = 'DATA_PATH_PREFIX';
export const DEFAULT_VOLUME_NAME = 'sedna-default-volume-name';

/** Model hot update of incremental learning inference workers. */
export const MODEL_HOT_UPDATE = {
  hostPrefix: '/var/lib/sedna/model-hot-update',
  containerPrefix: '/model-hot-update',
  volume: 'sedna-model-hot-update-volume',
  configFile: 'model_config.json',
  annotation: 'sedna.io/model-hot-update-config',
} as const;
