/**
 * Istio `networking.istio.io` Gateway and VirtualService as the gateway reads them (v1 and
 * v1beta1 have the same shape). Schemas cover the fields fedmesh acts on; every other field is
 * allowed through (the API server or Istio's tools own them) and reported when it changes routing.
 */
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';

const Str = Type.String();
const Meta = Type.Object({
  name: Str,
  namespace: Str,
  uid: Type.Optional(Str),
  resourceVersion: Type.Optional(Str),
  creationTimestamp: Type.Optional(Str),
  generation: Type.Optional(Type.Number()),
});

export const PortSchema = Type.Object({
  number: Type.Integer({ minimum: 1, maximum: 65535 }),
  protocol: Str,
  name: Type.Optional(Str),
  targetPort: Type.Optional(Type.Integer()),
});

export const ServerTlsSchema = Type.Object({
  mode: Type.Optional(Str),
  credentialName: Type.Optional(Str),
  httpsRedirect: Type.Optional(Type.Boolean()),
});

export const ServerSchema = Type.Object({
  port: PortSchema,
  hosts: Type.Array(Str, { minItems: 1 }),
  name: Type.Optional(Str),
  bind: Type.Optional(Str),
  tls: Type.Optional(ServerTlsSchema),
});

export const GatewaySchema = Type.Object({
  metadata: Meta,
  spec: Type.Object({
    selector: Type.Optional(Type.Record(Str, Str)),
    servers: Type.Array(ServerSchema),
  }),
});

/** Istio's StringMatch: one of exact, prefix, regex (none: the value only has to be present). */
export const StringMatchSchema = Type.Object({
  exact: Type.Optional(Str),
  prefix: Type.Optional(Str),
  regex: Type.Optional(Str),
});

export const HttpMatchSchema = Type.Object({
  name: Type.Optional(Str),
  uri: Type.Optional(StringMatchSchema),
  scheme: Type.Optional(StringMatchSchema),
  method: Type.Optional(StringMatchSchema),
  authority: Type.Optional(StringMatchSchema),
  headers: Type.Optional(Type.Record(Str, StringMatchSchema)),
  withoutHeaders: Type.Optional(Type.Record(Str, StringMatchSchema)),
  queryParams: Type.Optional(Type.Record(Str, StringMatchSchema)),
  port: Type.Optional(Type.Integer()),
  ignoreUriCase: Type.Optional(Type.Boolean()),
  gateways: Type.Optional(Type.Array(Str)),
  sourceLabels: Type.Optional(Type.Record(Str, Str)),
  sourceNamespace: Type.Optional(Str),
});

const HeaderOps = Type.Object({
  set: Type.Optional(Type.Record(Str, Str)),
  add: Type.Optional(Type.Record(Str, Str)),
  remove: Type.Optional(Type.Array(Str)),
});
export const HeadersSchema = Type.Object({ request: Type.Optional(HeaderOps), response: Type.Optional(HeaderOps) });

export const DestinationSchema = Type.Object({
  host: Str,
  subset: Type.Optional(Str),
  port: Type.Optional(Type.Object({ number: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })) })),
});

export const HttpRouteSchema = Type.Object({
  name: Type.Optional(Str),
  match: Type.Optional(Type.Array(HttpMatchSchema)),
  route: Type.Optional(
    Type.Array(
      Type.Object({
        destination: DestinationSchema,
        weight: Type.Optional(Type.Integer({ minimum: 0 })),
        headers: Type.Optional(HeadersSchema),
      }),
    ),
  ),
  redirect: Type.Optional(
    Type.Object({
      uri: Type.Optional(Str),
      authority: Type.Optional(Str),
      port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
      derivePort: Type.Optional(Str),
      scheme: Type.Optional(Str),
      redirectCode: Type.Optional(Type.Integer()),
    }),
  ),
  directResponse: Type.Optional(
    Type.Object({
      status: Type.Integer(),
      body: Type.Optional(Type.Object({ string: Type.Optional(Str), bytes: Type.Optional(Str) })),
    }),
  ),
  rewrite: Type.Optional(
    Type.Object({
      uri: Type.Optional(Str),
      authority: Type.Optional(Str),
      uriRegexRewrite: Type.Optional(Type.Object({ match: Str, rewrite: Str })),
    }),
  ),
  timeout: Type.Optional(Str),
  retries: Type.Optional(
    Type.Object({
      attempts: Type.Optional(Type.Integer({ minimum: 0 })),
      perTryTimeout: Type.Optional(Str),
      retryOn: Type.Optional(Str),
      retryRemoteLocalities: Type.Optional(Type.Boolean()),
    }),
  ),
  headers: Type.Optional(HeadersSchema),
});

export const VirtualServiceSchema = Type.Object({
  metadata: Meta,
  spec: Type.Object({
    hosts: Type.Optional(Type.Array(Str)),
    gateways: Type.Optional(Type.Array(Str)),
    http: Type.Optional(Type.Array(HttpRouteSchema)),
    tls: Type.Optional(Type.Array(Type.Unknown())),
    tcp: Type.Optional(Type.Array(Type.Unknown())),
    exportTo: Type.Optional(Type.Array(Str)),
  }),
});

export type Gateway = Static<typeof GatewaySchema>;
export type Server = Static<typeof ServerSchema>;
export type VirtualService = Static<typeof VirtualServiceSchema>;
export type HttpRoute = Static<typeof HttpRouteSchema>;
export type HttpMatch = Static<typeof HttpMatchSchema>;
export type StringMatch = Static<typeof StringMatchSchema>;
export type Headers = Static<typeof HeadersSchema>;

export const checkGateway = Compile(GatewaySchema);
export const checkVirtualService = Compile(VirtualServiceSchema);

/** Why an object (or part of it) is not served; stable codes for status and tests. */
export type Reason =
  | 'InvalidObject'
  | 'UnsupportedProtocol'
  | 'UnsupportedField'
  | 'InvalidHost'
  | 'UnknownHost'
  | 'UnknownPort'
  | 'InvalidRegex'
  | 'InvalidDuration'
  | 'InvalidRoute'
  | 'MissingSecret'
  | 'NoGateway'
  | 'HostNotOnGateway'
  | 'PortConflict';

export interface Issue {
  reason: Reason;
  /** Field path, as the API server writes it (`spec.http[1].match[0].uri.regex`). */
  path: string;
  message: string;
}

/** The outcome for one object: accepted when at least part of it is served. */
export interface ObjectStatus {
  kind: 'Gateway' | 'VirtualService';
  namespace: string;
  name: string;
  accepted: boolean;
  issues: Issue[];
}
