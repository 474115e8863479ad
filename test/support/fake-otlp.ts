/**
 * A fake OpenTelemetry collector on 127.0.0.1 for tests: an OTLP/HTTP traces receiver
 * (`POST /v1/traces`) that decodes what the exporters send — OTLP JSON
 * (`@opentelemetry/exporter-trace-otlp-http`) and OTLP protobuf (`…-otlp-proto`, decoded here
 * from the wire format by the fields of opentelemetry-proto's trace.proto) — into flat spans,
 * keeping the headers and content type of each request.
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
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && req.url === '/v1/traces' && contentType.startsWith('application/json')) {
        spans.push(...decodeJson(JSON.parse(body.toString('utf8')) as JsonRequest));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else if (req.method === 'POST' && req.url === '/v1/traces' && contentType.startsWith('application/x-protobuf')) {
        spans.push(...decodeProtobuf(body));
        // An empty ExportTraceServiceResponse.
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } else {
        res.writeHead(415, { 'content-type': 'application/json' }).end('{"message":"this fake collector takes OTLP JSON or protobuf on /v1/traces"}');
      }
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

/** One field of a protobuf message: its number and its value (a varint or fixed as bigint, a length-delimited field as bytes). */
type Field = { no: number; value: bigint | Buffer };

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[at++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
    }
  };
  while (at < buf.length) {
    const key = Number(varint());
    const no = key >> 3;
    switch (key & 7) {
      case 0:
        out.push({ no, value: varint() });
        break;
      case 1:
        out.push({ no, value: buf.readBigUInt64LE(at) });
        at += 8;
        break;
      case 2: {
        const len = Number(varint());
        out.push({ no, value: buf.subarray(at, at + len) });
        at += len;
        break;
      }
      case 5:
        out.push({ no, value: BigInt(buf.readUInt32LE(at)) });
        at += 4;
        break;
      default:
        throw new Error(`protobuf wire type ${key & 7} is not used by OTLP`);
    }
  }
  return out;
}

const all = (fs: Field[], no: number) => fs.filter((f) => f.no === no).map((f) => f.value);
const bytes = (fs: Field[], no: number): Buffer => (all(fs, no).at(-1) as Buffer | undefined) ?? Buffer.alloc(0);
const num = (fs: Field[], no: number): bigint => (all(fs, no).at(-1) as bigint | undefined) ?? 0n;

/** ExportTraceServiceRequest → ResourceSpans(1: resource, 2: scope_spans) → ScopeSpans(1: scope, 2: spans) → Span. */
function decodeProtobuf(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of all(fields(body), 1).map((b) => fields(b as Buffer))) {
    const resource = protoAttributes(fields(bytes(rs, 1)), 1);
    for (const ss of all(rs, 2).map((b) => fields(b as Buffer))) {
      const scope = bytes(fields(bytes(ss, 1)), 1).toString('utf8');
      for (const s of all(ss, 2).map((b) => fields(b as Buffer))) {
        const status = fields(bytes(s, 15));
        const message = bytes(status, 2).toString('utf8');
        out.push({
          traceId: bytes(s, 1).toString('hex'),
          spanId: bytes(s, 2).toString('hex'),
          parentSpanId: bytes(s, 4).toString('hex'),
          name: bytes(s, 5).toString('utf8'),
          kind: Number(num(s, 6)),
          start: Number(num(s, 7) / 1_000_000n),
          end: Number(num(s, 8) / 1_000_000n),
          attributes: protoAttributes(s, 9),
          status: { code: Number(num(status, 3)), ...(message ? { message } : {}) },
          events: all(s, 11).map((e) => fields(e as Buffer)).map((e) => ({ name: bytes(e, 2).toString('utf8'), attributes: protoAttributes(e, 3) })),
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

/** KeyValue(1: key, 2: AnyValue) fields numbered `no` of a message. */
function protoAttributes(fs: Field[], no: number): Record<string, AttributeValue> {
  return Object.fromEntries(all(fs, no).map((kv) => fields(kv as Buffer)).map((kv) => [bytes(kv, 1).toString('utf8'), protoValue(fields(bytes(kv, 2)))]));
}

/** AnyValue: 1 string, 2 bool, 3 int64, 4 double, 5 ArrayValue(1: values). */
function protoValue(v: Field[]): AttributeValue {
  const f = v[0];
  if (!f) return undefined;
  switch (f.no) {
    case 1:
      return (f.value as Buffer).toString('utf8');
    case 2:
      return f.value === 1n;
    case 3:
      return Number(BigInt.asIntN(64, f.value as bigint));
    case 4: {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(f.value as bigint);
      return b.readDoubleLE(0);
    }
    case 5:
      return all(fields(f.value as Buffer), 1).map((x) => protoValue(fields(x as Buffer)));
    default:
      return undefined;
  }
}
