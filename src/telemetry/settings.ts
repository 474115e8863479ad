import { randomBytes } from 'node:crypto';
import type { TraceContext } from '../records/events.js';

/**
 * Whether and where `apply` exports its trace (docs/telemetry.md), from the standard OTEL_*
 * variables of the environment factory was started with. Loads nothing of the SDK: `apply`
 * decides with this before importing it.
 */
export interface TraceSettings {
  /** The OTLP/HTTP traces endpoint. */
  url: string;
  /** How spans are encoded: OTLP JSON unless OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL asks for protobuf. */
  protocol: 'http/json' | 'http/protobuf';
  /** A protocol asked for that factory does not speak (`grpc`): told once, and JSON sent. */
  unsupportedProtocol?: string;
  headers: Record<string, string>;
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES. */
  resource: Record<string, string>;
  /** The run's trace: TRACEPARENT's, or a new one. */
  trace: TraceContext;
  /** The span TRACEPARENT names, which the run's span is a child of. */
  parentSpanId?: string;
}

const DEFAULT_ENDPOINT = 'http://localhost:4318/';

/** Export when an endpoint is set or `--otel` asks, unless OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none say not to. */
export function traceSettings(env: Readonly<NodeJS.ProcessEnv>, flag: boolean): TraceSettings | undefined {
  const own = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const shared = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (!flag && own === undefined && shared === undefined) return undefined;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return undefined;
  // The signal's own endpoint is used as given; the shared one gets the signal's path (the OTLP spec's rule).
  const url = own ?? `${(shared ?? DEFAULT_ENDPOINT).replace(/\/?$/, '/')}v1/traces`;
  const resource = keyPairs(env.OTEL_RESOURCE_ATTRIBUTES);
  const parent = parseTraceparent(env.TRACEPARENT);
  const asked = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL);
  const protocol = asked === 'http/protobuf' ? 'http/protobuf' : 'http/json';
  return {
    url,
    protocol,
    ...(asked !== undefined && asked !== protocol ? { unsupportedProtocol: asked } : {}),
    headers: { ...keyPairs(env.OTEL_EXPORTER_OTLP_HEADERS), ...keyPairs(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS) },
    serviceName: nonEmpty(env.OTEL_SERVICE_NAME) ?? resource['service.name'] ?? 'factory',
    resource,
    trace: parent ? { traceId: parent.traceId, flags: parent.flags } : { traceId: randomBytes(16).toString('hex'), flags: '01' },
    ...(parent ? { parentSpanId: parent.spanId } : {}),
  };
}

/** A W3C `traceparent` (version 00 and the later ones' first four fields); anything else is ignored, as the W3C spec says. */
export function parseTraceparent(text: string | undefined): { traceId: string; spanId: string; flags: string } | undefined {
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/.exec(text?.trim() ?? '');
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, flags };
}

/** `k1=v1,k2=v2` with percent-encoded values (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES); a malformed pair is skipped. */
export function keyPairs(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    const key = pair.slice(0, at).trim();
    try {
      if (key) out[key] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      // a stray % in a value: the pair is skipped, as the SDK does
    }
  }
  return out;
}

function nonEmpty(text: string | undefined): string | undefined {
  const t = text?.trim();
  return t ? t : undefined;
}
