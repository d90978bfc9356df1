/**
 * Istio DestinationRules (`networking.istio.io` v1, the same schema as v1beta1): the load balancer
 * of a Service, from `spec.trafficPolicy.loadBalancer` and `portLevelSettings[].loadBalancer`.
 * Only the load balancer is read. Inside `loadBalancer` unknown fields and values are refused with
 * a clear log line (a typo must not silently mean round robin); the rule is then ignored and the
 * Service keeps the default. A rule applies to the Service its `host` names, as Istio reads it:
 * `svc` (relative to the rule's namespace) or `svc.ns.svc.<cluster domain>`; anything else
 * (wildcards, external hosts) is not a Service of ours. Two rules for one host: the older wins (Istio's order).
 */
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { createInformer, type Informer, type ListerWatcher, restListerWatcher } from '../../common/kube/informer.ts';
import type { KubeObject, ResourceType } from '../../common/kube/objects.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { LbPolicy } from './lb.ts';

export const DESTINATION_RULES: ResourceType = {
  group: 'networking.istio.io',
  version: 'v1',
  plural: 'destinationrules',
  kind: 'DestinationRule',
};

const strict = { additionalProperties: false } as const;
const Ttl = Type.String({ pattern: '^([0-9]+(\\.[0-9]+)?(h|m|s|ms))+$' });
/** Istio's LoadBalancerSettings; ring-hash and Maglev tuning are accepted and not needed here. */
export const LoadBalancerSchema = Type.Object(
  {
    simple: Type.Optional(
      Type.Union([
        Type.Literal('UNSPECIFIED'),
        Type.Literal('RANDOM'),
        Type.Literal('PASSTHROUGH'),
        Type.Literal('ROUND_ROBIN'),
        Type.Literal('LEAST_REQUEST'),
        Type.Literal('LEAST_CONN'),
      ]),
    ),
    consistentHash: Type.Optional(
      Type.Object(
        {
          httpHeaderName: Type.Optional(Type.String({ minLength: 1 })),
          httpCookie: Type.Optional(
            Type.Object(
              { name: Type.String({ minLength: 1 }), path: Type.Optional(Type.String()), ttl: Type.Optional(Ttl) },
              strict,
            ),
          ),
          useSourceIp: Type.Optional(Type.Boolean()),
          httpQueryParameterName: Type.Optional(Type.String({ minLength: 1 })),
          ringHash: Type.Optional(Type.Object({ minimumRingSize: Type.Optional(Type.Integer({ minimum: 0 })) })),
          maglev: Type.Optional(Type.Object({ tableSize: Type.Optional(Type.Integer({ minimum: 0 })) })),
          minimumRingSize: Type.Optional(Type.Integer({ minimum: 0 })),
        },
        strict,
      ),
    ),
    localityLbSetting: Type.Optional(Type.Unknown()),
    warmupDurationSecs: Type.Optional(Type.Unknown()),
    warmup: Type.Optional(Type.Unknown()),
  },
  strict,
);
const checkLb = Compile(LoadBalancerSchema);

/** What is read of a DestinationRule (everything else in it is Istio's business). */
const RuleSchema = Type.Object({
  metadata: Type.Object({
    name: Type.String(),
    namespace: Type.String(),
    creationTimestamp: Type.Optional(Type.String()),
  }),
  spec: Type.Object({
    host: Type.String({ minLength: 1 }),
    trafficPolicy: Type.Optional(
      Type.Object({
        loadBalancer: Type.Optional(Type.Unknown()),
        portLevelSettings: Type.Optional(
          Type.Array(
            Type.Object({
              port: Type.Optional(Type.Object({ number: Type.Integer({ minimum: 1, maximum: 65535 }) })),
              loadBalancer: Type.Optional(Type.Unknown()),
            }),
          ),
        ),
      }),
    ),
  }),
});
const checkRule = Compile(RuleSchema);
type RuleObject = Static<typeof RuleSchema>;

/** `1h30m`, `10s`, `500ms` → milliseconds (the Ttl pattern above admits only these units). */
export function durationMs(text: string): number {
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
  let total = 0;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)/g))
    total += Number(m[1]) * (unit[m[2] as string] ?? 0);
  return total;
}

export class InvalidRuleError extends Error {
  readonly code = 'ERR_INVALID_DESTINATION_RULE';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRuleError';
  }
}

/** Istio's loadBalancer → our policy; throws InvalidRuleError naming the first problem. */
export function toPolicy(lb: unknown, where: string): LbPolicy | undefined {
  if (lb === undefined) return undefined;
  if (!checkLb.Check(lb)) {
    const first = [...checkLb.Errors(lb)][0] as { instancePath?: string; message?: string } | undefined;
    throw new InvalidRuleError(`${where}${first?.instancePath ?? ''}: ${first?.message ?? 'invalid'}`);
  }
  const v = lb as Static<typeof LoadBalancerSchema>;
  if (v.simple && v.consistentHash) throw new InvalidRuleError(`${where}: simple and consistentHash are exclusive`);
  const ch = v.consistentHash;
  if (ch) {
    const kinds = ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'].filter(
      (k) => ch[k as keyof typeof ch] !== undefined,
    );
    if (kinds.length !== 1) throw new InvalidRuleError(`${where}.consistentHash: name exactly one hash key`);
    if (ch.useSourceIp === true) return { consistentHash: { useSourceIp: true } };
    if (ch.httpHeaderName) return { consistentHash: { httpHeaderName: ch.httpHeaderName } };
    if (ch.httpCookie) {
      const { name, path, ttl } = ch.httpCookie;
      const ttlS = ttl === undefined ? undefined : Math.floor(durationMs(ttl) / 1000);
      return { consistentHash: { httpCookie: { name, ...(path ? { path } : {}), ...(ttlS ? { ttlS } : {}) } } };
    }
    throw new InvalidRuleError(
      `${where}.consistentHash: ${kinds[0]}${ch.useSourceIp === false ? ': false' : ''} is not supported`,
    );
  }
  switch (v.simple) {
    case undefined:
    case 'UNSPECIFIED':
    case 'ROUND_ROBIN':
      return { simple: 'ROUND_ROBIN' };
    case 'RANDOM':
      return { simple: 'RANDOM' };
    case 'LEAST_REQUEST':
    case 'LEAST_CONN':
      return { simple: 'LEAST_REQUEST' };
    default:
      throw new InvalidRuleError(`${where}.simple: ${v.simple} is not supported by the node proxy`);
  }
}

/** The (namespace, name) a rule's host names, or undefined (wildcard, another domain, not a Service name). */
export function ruleTarget(
  host: string,
  ruleNs: string,
  domain: string,
): { namespace: string; name: string } | undefined {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h.includes('*')) return undefined;
  const parts = h.split('.');
  if (parts.length === 1) return { namespace: ruleNs, name: h };
  const [name = '', namespace = '', ...rest] = parts;
  const tail = rest.join('.');
  if (tail === `svc.${domain}`) return { namespace, name };
  return undefined;
}

export interface PortPolicies {
  /** The Service-wide policy, when the rule sets one. */
  all?: LbPolicy;
  /** Per Service port number. */
  ports: Map<number, LbPolicy>;
  /** namespace/name of the rule. */
  rule: string;
}

/** A rule's policies, or InvalidRuleError. */
export function rulePolicies(obj: RuleObject): PortPolicies {
  const rule = `${obj.metadata.namespace}/${obj.metadata.name}`;
  const tp = obj.spec.trafficPolicy;
  const out: PortPolicies = { ports: new Map(), rule, all: toPolicy(tp?.loadBalancer, 'trafficPolicy.loadBalancer') };
  tp?.portLevelSettings?.forEach((s, i) => {
    const p = toPolicy(s.loadBalancer, `trafficPolicy.portLevelSettings[${i}].loadBalancer`);
    if (p && s.port) out.ports.set(s.port.number, p);
  });
  return out;
}

export interface DestinationRules {
  start(signal: AbortSignal): Promise<void>;
  /** The policy for a Service port, or undefined (default). */
  policyFor(namespace: string, name: string, port: number): { policy: LbPolicy; rule: string } | undefined;
  onChange(listener: () => void): void;
}

export function createDestinationRules(
  init: { domain: string },
  components: { rest?: KubeRest; listerWatcher?: ListerWatcher; log: Logger },
): DestinationRules {
  const log = components.log.child({ component: 'mesh.proxy.rules' });
  const lw = components.listerWatcher ?? restListerWatcher(components.rest as KubeRest, DESTINATION_RULES);
  const informer: Informer = createInformer({ resource: DESTINATION_RULES }, { listerWatcher: lw, log });
  /** namespace/name of the Service → rules naming it, oldest first. */
  let index = new Map<string, Array<{ at: string; policies: PortPolicies }>>();
  const listeners: Array<() => void> = [];
  const rebuild = () => {
    const next = new Map<string, Array<{ at: string; policies: PortPolicies }>>();
    for (const obj of informer.list() as KubeObject[]) {
      const id = `${obj.metadata.namespace}/${obj.metadata.name}`;
      if (!checkRule.Check(obj)) {
        log.warn(
          { code: 'ERR_INVALID_DESTINATION_RULE', rule: id },
          'destination rule does not match the schema, ignored',
        );
        continue;
      }
      const target = ruleTarget(obj.spec.host, obj.metadata.namespace, init.domain);
      if (!target) continue;
      let policies: PortPolicies;
      try {
        policies = rulePolicies(obj);
      } catch (err) {
        log.warn(
          { code: 'ERR_INVALID_DESTINATION_RULE', rule: id, err: (err as Error).message },
          'destination rule ignored',
        );
        continue;
      }
      const key = `${target.namespace}/${target.name}`;
      const list = next.get(key) ?? [];
      list.push({ at: `${obj.metadata.creationTimestamp ?? ''}|${id}`, policies });
      list.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
      next.set(key, list);
    }
    index = next;
    for (const l of listeners) l();
  };
  informer.addHandlers({ add: rebuild, update: rebuild, delete: rebuild, relisted: rebuild });
  return {
    start: (signal) => informer.start(signal),
    policyFor(namespace, name, port) {
      for (const { policies } of index.get(`${namespace}/${name}`) ?? []) {
        const p = policies.ports.get(port) ?? policies.all;
        if (p) return { policy: p, rule: policies.rule };
      }
      return undefined;
    },
    onChange: (l) => listeners.push(l),
  };
}
