/**
 * Sedna's storage injection (runtime/storage_initializer_injector.go), so that workers find their
 * models and datasets where Sedna's worker images expect them:
 * - s3/http(s) URLs to download are fetched by an init container into an emptyDir under /downloads;
 * - host paths are mounted (their directory) under /home/data, and DATA_PATH_PREFIX says so;
 * - the env var of each mount gets the path inside the container (several joined by ';').
 * Not injected: storage credentials from Secrets (S3_ENDPOINT_URL, ACCESS_KEY_ID, SECRET_ACCESS_KEY).
 */
import { posix } from 'node:path';
import { DEFAULT_VOLUME_NAME, HOST_PATH_PREFIX, HOST_PATH_PREFIX_ENV, STORAGE_INITIALIZER } from './constants.ts';
import { k8sValidName } from './sedna.ts';

export interface MountUrl {
  url: string;
  /** Fetch it with the storage initializer (s3/http/https only). */
  downloadByInitializer?: boolean;
  /** The URL is an index file whose entries are downloaded too (datasets). */
  indirect?: boolean;
  isDir?: boolean;
}

export interface WorkerMount {
  urls: MountUrl[];
  /** Env var that receives the container path(s). */
  envName?: string;
}

interface Parsed extends MountUrl {
  containerPath: string;
  mountPath: string;
  hostPath: string;
  downloadSrc: string;
  downloadDst: string;
}

// biome-ignore lint/suspicious/noExplicitAny: pod specs are JSON as the API server sends them.
type Json = any;

/** Go's filepath.Split: the directory keeps its trailing slash. */
function splitDir(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i + 1);
}

function parseUrl(url: string): { scheme: string; host: string; path: string } {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url);
  if (!m) return { scheme: '', host: '', path: url.split(/[?#]/)[0] as string };
  try {
    const u = new URL(url);
    return { scheme: (m[1] as string).toLowerCase(), host: u.host, path: decodeURIComponent(u.pathname) };
  } catch {
    return { scheme: (m[1] as string).toLowerCase(), host: '', path: '' };
  }
}

function parse(m: MountUrl): Parsed {
  const u = parseUrl(m.url);
  const p: Parsed = { ...m, containerPath: '', mountPath: '', hostPath: '', downloadSrc: '', downloadDst: '' };
  if (m.downloadByInitializer && (STORAGE_INITIALIZER.schemes as readonly string[]).includes(u.scheme)) {
    p.mountPath = STORAGE_INITIALIZER.prefix;
    p.containerPath = posix.join(p.mountPath, u.host + u.path);
    p.downloadSrc = m.url;
    p.downloadDst = splitDir(p.containerPath);
  }
  if (u.scheme !== '') return p;
  if (m.isDir) {
    p.hostPath = m.url;
    p.mountPath = posix.join(HOST_PATH_PREFIX, u.path);
    p.containerPath = p.mountPath;
  } else {
    p.hostPath = splitDir(m.url);
    p.containerPath = posix.join(HOST_PATH_PREFIX, u.path);
    p.mountPath = splitDir(p.containerPath);
    if (m.indirect) {
      p.downloadSrc = p.containerPath;
      p.containerPath = posix.join(STORAGE_INITIALIZER.prefix, u.host + u.path);
      p.downloadDst = splitDir(p.containerPath);
    }
  }
  return p;
}

/**
 * Adds the mounts to `spec` (a PodSpec, changed in place) and returns the env vars they define,
 * in mount order. Call before adding the worker's own env, as Sedna does.
 */
export function injectStorage(spec: Json, mounts: WorkerMount[]): Record<string, string> {
  const env: Record<string, string> = {};
  const parsed: Parsed[] = [];
  for (const mount of mounts) {
    const urls = mount.urls.map(parse);
    parsed.push(...urls);
    if (mount.envName) env[mount.envName] = urls.map((u) => u.containerPath || u.url).join(';');
  }

  // The storage initializer init container, first (host path mounts may add to it).
  const pairs: string[] = [];
  for (const u of parsed) {
    if (u.downloadSrc && u.downloadDst)
      pairs.push(u.downloadSrc, (u.indirect ? STORAGE_INITIALIZER.indirectMark : '') + u.downloadDst);
  }
  if (pairs.length > 0) {
    spec.initContainers = [
      ...(spec.initContainers ?? []),
      {
        name: STORAGE_INITIALIZER.container,
        image: STORAGE_INITIALIZER.image,
        imagePullPolicy: 'IfNotPresent',
        args: pairs,
        terminationMessagePolicy: 'FallbackToLogsOnError',
        resources: { limits: { cpu: '1', memory: '1Gi' } },
        volumeMounts: [{ name: STORAGE_INITIALIZER.volume, mountPath: STORAGE_INITIALIZER.prefix }],
        env: [{ name: STORAGE_INITIALIZER.indirectMarkEnv, value: STORAGE_INITIALIZER.indirectMark }],
      },
    ];
    addVolumes(
      spec,
      [{ name: STORAGE_INITIALIZER.volume, emptyDir: {} }],
      [{ name: STORAGE_INITIALIZER.volume, mountPath: STORAGE_INITIALIZER.prefix, readOnly: true }],
    );
  }

  // Host paths: one hostPath volume per directory; indirect ones only for the init container.
  const volumes: Json[] = [];
  const seen = new Set<string>();
  const mountsMain: Json[] = [];
  const mountsInit: Json[] = [];
  for (const u of parsed) {
    if (!u.hostPath) continue;
    const name = k8sValidName(u.hostPath) || DEFAULT_VOLUME_NAME;
    if (!seen.has(name)) {
      seen.add(name);
      volumes.push({ name, hostPath: { path: u.hostPath, type: 'Directory' } });
    }
    (u.indirect ? mountsInit : mountsMain).push({ name, mountPath: u.mountPath });
  }
  addVolumes(spec, volumes, mountsMain);
  if (mountsMain.length > 0) addEnv(spec, [{ name: HOST_PATH_PREFIX_ENV, value: HOST_PATH_PREFIX }]);
  if (mountsInit.length > 0) {
    const init = spec.initContainers.at(-1);
    init.volumeMounts = [...(init.volumeMounts ?? []), ...mountsInit];
  }
  return env;
}

/** Adds volumes to the pod and volume mounts to every container (Sedna's injectVolume). */
export function addVolumes(spec: Json, volumes: Json[], volumeMounts: Json[]): void {
  if (volumes.length > 0) spec.volumes = [...(spec.volumes ?? []), ...volumes];
  if (volumeMounts.length > 0) {
    for (const c of spec.containers ?? []) c.volumeMounts = [...(c.volumeMounts ?? []), ...volumeMounts];
  }
}

/** Appends env vars to every container (Sedna's injectEnvs). */
export function addEnv(spec: Json, env: { name: string; value: string }[]): void {
  if (env.length === 0) return;
  for (const c of spec.containers ?? []) c.env = [...(c.env ?? []), ...env];
}
