/**
 * A fake OpenTelemetry collector on 127.0.0.1 for tests: an OTLP/HTTP traces receiver
 * (`POST /v1/traces`) that decodes what the exporter sends — OTLP JSON, the encoding of the
 * installed `@opentelemetry/exporter-trace-otlp-http` — into flat spans, keeping the headers of
 * each request.
 *
 *   const collector = await startFakeCollector();
 *   ... OTEL_EXPORTER_OTLP_ENDPOINT=collector.url ...
 *   await collector.until((spans) => spans.some((s) => s.name.startsWith('run ')));
 *   await collector.close();
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type AttributeValue = string | number | boolean | AttributeValue[] | undefined;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind number: 1 internal, 3 client. */
  kind: number;
  /** Milliseconds since the epoch (from the nanoseconds sent). */
  start: number;
  end: number;
  attributes: Record<string, AttributeValue>;
  /** 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
  events: { name: string; attributes: Record<string, AttributeValue> }[];
  resource: Record<string, AttributeValue>;
  scope: string;
}

export interface ReceivedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  contentType: string;
}

export interface FakeCollector {
  /** `http://127.0.0.1:PORT`: an OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  spans: ReceivedSpan[];
  requests: ReceivedRequest[];
  /** Resolves once the spans received satisfy the condition (or rejects after `ms`). */
  until(cond: (spans: ReceivedSpan[]) => boolean, ms?: number): Promise<void>;
  close(): Promise<void>;
}

interface JsonKeyValue {
  key: string;
  value: JsonAnyValue;
}
interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: JsonAnyValue[] };
}
interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: JsonKeyValue[];
  status?: { code?: number; message?: string };
  events?: { name: string; attributes?: JsonKeyValue[] }[];
}
interface JsonRequest {
  resourceSpans?: { resource?: { attributes?: JsonKeyValue[] }; scopeSpans?: { scope?: { name?: string }; spans?: JsonSpan[] }[] }[];
}

export async function startFakeCollector(): Promise<FakeCollector> {
  const spans: ReceivedSpan[] = [];
  const requests: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const contentType = String(req.headers['content-type'] ?? '');
      requests.push({ path: req.url ?? '', headers: req.headers, contentType });
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !contentType.startsWith('application/json')) {
        res.writeHead(415, { 'content-type': 'application/json' }).end('{"message":"this fake collector takes OTLP JSON on /v1/traces"}');
        return;
      }
      spans.push(...decodeJson(JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonRequest));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    async until(cond, ms = 5000) {
      const deadline = Date.now() + ms;
      while (!cond(spans)) {
        if (Date.now() > deadline) throw new Error(`the collector did not receive the spans expected within ${ms} ms (it has ${spans.map((s) => s.name).join(', ') || 'none'})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function decodeJson(body: JsonRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: s.parentSpanId ? hex(s.parentSpanId) : '',
          name: s.name,
          kind: s.kind,
          start: Number(BigInt(s.startTimeUnixNano) / 1_000_000n),
          end: Number(BigInt(s.endTimeUnixNano) / 1_000_000n),
          attributes: attributes(s.attributes),
          status: { code: s.status?.code ?? 0, ...(s.status?.message ? { message: s.status.message } : {}) },
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attributes(e.attributes) })),
          resource,
          scope: ss.scope?.name ?? '',
        });
      }
    }
  }
  return out;
}

/** OTLP JSON ids are hex; a base64 id (protobuf's JSON mapping) is turned into hex. */
function hex(id: string): string {
  return /^[0-9a-f]+$/i.test(id) && (id.length === 32 || id.length === 16) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex');
}

function attributes(list: JsonKeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
}

function value(v: JsonAnyValue): AttributeValue {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  return undefined;
}
