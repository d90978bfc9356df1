/**
 * Answers for the cluster domain and for reverse names of cluster IPs, from the service catalog
 * alone (no I/O): A/AAAA (cluster IPs; headless Services: the ready endpoint addresses), SRV
 * (named ports), PTR, CNAME for ExternalName Services, NXDOMAIN and NODATA with the zone's SOA so
 * clients cache negatives for the cluster TTL.
 */
import type { Answer, RecordType } from 'dns-packet';
import type { Endpoint, ServiceCatalog, ServiceEntry } from '../services/index.ts';
import { endpointPort } from '../services/index.ts';
import { canonicalIP } from '../services/model.ts';
import {
  type ClusterName,
  endpointLabel,
  normalizeName,
  parseClusterName,
  parseReverse,
  serviceFqdn,
} from './names.ts';

/** What DNS reads of the catalog (the catalog itself, or a stub in unit tests). */
export type DnsCatalog = Pick<ServiceCatalog, 'lookup' | 'entries' | 'onChange'> &
  Partial<Pick<ServiceCatalog, 'synced'>>;

export interface LocalAnswer {
  rcode: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL';
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  /** ExternalName: the target to resolve further (A/AAAA queries), beside the CNAME in `answers`. */
  chase?: string;
}

export interface ClusterZone {
  /** The local answer for `name`/`type`, or undefined when it is not ours (forward it). */
  answer(name: string, type: RecordType): LocalAnswer | undefined;
  /** Changes with every catalog change: answers kept from an older version are stale. */
  version(): number;
}

/** Local answers remembered (exact name and type); 4 096 × a few hundred bytes. */
const MEMO_SIZE = 4096;

const readyAddresses = (eps: Endpoint[], family: 'IPv4' | 'IPv6') => eps.filter((e) => e.ready && e.family === family);

export function createClusterZone(init: { domain: string; ttl: number }, catalog: DnsCatalog): ClusterZone {
  const { domain, ttl } = init;
  const soa: Answer = {
    name: domain,
    type: 'SOA',
    ttl,
    data: {
      mname: `ns.dns.${domain}`,
      rname: `hostmaster.${domain}`,
      serial: 1,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ttl,
    },
  };
  // Derived indexes, rebuilt on the first query after a catalog change.
  let dirty = true;
  const ptr = new Map<string, string[]>();
  const namespaces = new Set<string>();
  catalog.onChange(() => {
    dirty = true;
  });
  function rebuild(): void {
    if (!dirty) return;
    dirty = false;
    ptr.clear();
    namespaces.clear();
    const add = (ip: string, name: string) => {
      const k = canonicalIP(ip);
      const list = ptr.get(k) ?? [];
      if (!list.includes(name)) list.push(name);
      ptr.set(k, list);
    };
    for (const { service, endpoints } of catalog.entries()) {
      namespaces.add(service.namespace);
      const fqdn = serviceFqdn(service.namespace, service.name, domain);
      for (const ip of service.clusterIPs) add(ip, fqdn);
      if (service.headless)
        for (const ep of endpoints)
          if (ep.ready) for (const a of ep.addresses) add(a, `${endpointLabel(a, ep.hostname)}.${fqdn}`);
    }
  }

  const nx = (): LocalAnswer => ({ rcode: 'NXDOMAIN', answers: [], authorities: [soa], additionals: [] });
  const nodata = (): LocalAnswer => ({ rcode: 'NOERROR', answers: [], authorities: [soa], additionals: [] });
  const ok = (answers: Answer[], additionals: Answer[] = []): LocalAnswer =>
    answers.length ? { rcode: 'NOERROR', answers, authorities: [], additionals } : nodata();
  const addr = (name: string, ip: string): Answer =>
    ip.includes(':') ? { name, type: 'AAAA', ttl, data: ip } : { name, type: 'A', ttl, data: ip };
  const wants = (type: RecordType, family: 'IPv4' | 'IPv6') =>
    (type as string) === 'ANY' || type === (family === 'IPv4' ? 'A' : 'AAAA');

  /** A/AAAA records of a Service name: cluster IPs, or for a headless Service its ready endpoints. */
  function addresses(entry: ServiceEntry, name: string, type: RecordType): Answer[] {
    const out: Answer[] = [];
    const seen = new Set<string>();
    const ips = entry.service.headless
      ? entry.endpoints.filter((e) => e.ready).flatMap((e) => e.addresses)
      : entry.service.clusterIPs;
    for (const ip of ips) {
      if (seen.has(ip) || !wants(type, ip.includes(':') ? 'IPv6' : 'IPv4')) continue;
      seen.add(ip);
      out.push(addr(name, ip));
    }
    return out;
  }

  function srv(entry: ServiceEntry, only?: { port: string; protocol: string }): { answers: Answer[]; extra: Answer[] } {
    const { service } = entry;
    const fqdn = serviceFqdn(service.namespace, service.name, domain);
    const answers: Answer[] = [];
    const extra: Answer[] = [];
    for (const p of service.ports) {
      if (!p.name || (only && (p.name !== only.port || p.protocol !== only.protocol))) continue;
      const owner = `_${p.name}._${p.protocol.toLowerCase()}.${fqdn}`;
      if (!service.headless) {
        answers.push({ name: owner, type: 'SRV', ttl, data: { priority: 0, weight: 100, port: p.port, target: fqdn } });
        continue;
      }
      for (const ep of [...readyAddresses(entry.endpoints, 'IPv4'), ...readyAddresses(entry.endpoints, 'IPv6')]) {
        const port = endpointPort(ep, p.name, p.protocol);
        const a = ep.addresses[0];
        if (port === undefined || a === undefined) continue;
        const target = `${endpointLabel(a, ep.hostname)}.${fqdn}`;
        answers.push({ name: owner, type: 'SRV', ttl, data: { priority: 0, weight: 100, port, target } });
        extra.push(addr(target, a));
      }
    }
    if (!service.headless && answers.length) extra.push(...addresses(entry, fqdn, 'ANY' as RecordType));
    return { answers, extra };
  }

  function answerName(cn: ClusterName, name: string, type: RecordType): LocalAnswer {
    if (cn.kind === 'none') return nx();
    if (cn.kind === 'apex') return type === 'SOA' && normalizeName(name) === domain ? ok([soa]) : nodata();
    rebuild();
    if (!namespaces.has(cn.namespace)) return nx();
    if (cn.kind === 'namespace') return nodata();
    const entry = catalog.lookup(cn.namespace, cn.service);
    if (!entry) return nx();
    const { service } = entry;
    if (cn.kind === 'service') {
      if (service.externalName && service.type === 'ExternalName') {
        const target = service.externalName.replace(/\.$/, '');
        return {
          rcode: 'NOERROR',
          answers: [{ name, type: 'CNAME', ttl, data: target }],
          authorities: [],
          additionals: [],
          ...(type === 'A' || type === 'AAAA' ? { chase: target } : {}),
        };
      }
      // CoreDNS answers NXDOMAIN for a headless Service with no ready endpoint: nothing to reach.
      if (service.headless && !entry.endpoints.some((e) => e.ready)) return nx();
      if (type === 'SRV') {
        const s = srv(entry);
        return ok(
          s.answers.map((a) => ({ ...a, name })),
          s.extra,
        );
      }
      return ok(addresses(entry, name, type));
    }
    if (cn.kind === 'srv') {
      const s = srv(entry, { port: cn.port, protocol: cn.protocol });
      if (!s.answers.length) return nx();
      return type === 'SRV'
        ? ok(
            s.answers.map((a) => ({ ...a, name })),
            s.extra,
          )
        : nodata();
    }
    // One endpoint of a headless Service, by hostname or dashed address.
    if (!service.headless) return nx();
    const eps = entry.endpoints.filter(
      (e) => e.ready && e.addresses.some((a) => endpointLabel(a, e.hostname) === cn.endpoint),
    );
    if (!eps.length) return nx();
    const out: Answer[] = [];
    for (const e of eps) for (const a of e.addresses) if (wants(type, e.family)) out.push(addr(name, a));
    return ok(out);
  }

  // Answers by exact name and type, dropped on any catalog change: a pod asks the same few names
  // over and over, and this skips parsing and lookup. Bounded: cleared when full.
  const memo = new Map<string, LocalAnswer | null>();
  let version = 0;
  catalog.onChange(() => {
    memo.clear();
    version++;
  });

  function compute(name: string, type: RecordType): LocalAnswer | undefined {
    const cn = parseClusterName(name, domain);
    if (cn) return answerName(cn, name, type);
    const ip = parseReverse(name);
    if (ip === undefined) return undefined;
    rebuild();
    const names = ptr.get(ip);
    // An address we do not know is someone else's: the upstream may know it.
    if (!names) return undefined;
    return type === 'PTR' || (type as string) === 'ANY'
      ? ok(names.map((data) => ({ name, type: 'PTR' as const, ttl, data })))
      : { rcode: 'NOERROR', answers: [], authorities: [], additionals: [] };
  }

  return {
    version: () => version,
    answer(name, type) {
      // Before the first full list a missing Service may only be not listed yet: SERVFAIL makes the
      // client try again, where NXDOMAIN would be cached as an answer.
      if (catalog.synced && !catalog.synced() && parseClusterName(name, domain)) {
        return { rcode: 'SERVFAIL', answers: [], authorities: [], additionals: [] };
      }
      const key = `${type}|${name}`;
      const hit = memo.get(key);
      if (hit !== undefined) return hit ?? undefined;
      const a = compute(name, type);
      if (memo.size >= MEMO_SIZE) memo.clear();
      memo.set(key, a ?? null);
      return a;
    },
  };
}
