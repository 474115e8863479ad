import { describe, expect, test } from 'vitest';
import { keyPairs, parseTraceparent, traceSettings } from '../../src/telemetry/settings.js';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('whether and where apply exports its trace', () => {
  test('nothing without an endpoint or --otel; the SDK switches that say no win', () => {
    expect(traceSettings({}, false)).toBeUndefined();
    expect(traceSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }, false)).toBeUndefined();
    expect(traceSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' }, false)).toBeUndefined();
    expect(traceSettings({ OTEL_TRACES_EXPORTER: 'none' }, true)).toBeUndefined();
  });

  test('the endpoint: the traces one as given, the shared one with /v1/traces, else the local collector', () => {
    expect(traceSettings({}, true)?.url).toBe('http://localhost:4318/v1/traces');
    expect(traceSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c.example/otlp/' }, false)?.url).toBe('https://c.example/otlp/v1/traces');
    expect(traceSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c.example', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://t.example/in' }, false)?.url).toBe('https://t.example/in');
  });

  test('the protocol: OTLP JSON unless protobuf is asked for (the traces variable first); grpc is told and JSON sent', () => {
    expect(traceSettings({}, true)).toMatchObject({ protocol: 'http/json' });
    expect(traceSettings({}, true)?.unsupportedProtocol).toBeUndefined();
    expect(traceSettings({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, true)).toMatchObject({ protocol: 'http/protobuf' });
    expect(traceSettings({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }, true)).toMatchObject({ protocol: 'http/json' });
    expect(traceSettings({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, true)).toMatchObject({ protocol: 'http/json', unsupportedProtocol: 'grpc' });
  });

  test('headers (the traces ones over the shared), service name and resource attributes', () => {
    const s = traceSettings({ OTEL_EXPORTER_OTLP_HEADERS: 'a=1,b=x%20y', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'b=2', OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs,team=ci' }, true)!;
    expect(s.headers).toEqual({ a: '1', b: '2' });
    expect(s.serviceName).toBe('from-attrs');
    expect(s.resource).toEqual({ 'service.name': 'from-attrs', team: 'ci' });
    expect(traceSettings({ OTEL_SERVICE_NAME: 'svc', OTEL_RESOURCE_ATTRIBUTES: 'service.name=x' }, true)!.serviceName).toBe('svc');
    expect(traceSettings({}, true)!.serviceName).toBe('factory');
  });

  test('a TRACEPARENT gives the trace and the parent; without one, a new sampled trace', () => {
    expect(traceSettings({ TRACEPARENT: TP }, true)).toMatchObject({ trace: { traceId: '0af7651916cd43dd8448eb211c80319c', flags: '01' }, parentSpanId: 'b7ad6b7169203331' });
    const fresh = traceSettings({}, true)!;
    expect(fresh.trace.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(fresh.trace.flags).toBe('01');
    expect(fresh.parentSpanId).toBeUndefined();
  });
});

describe('parseTraceparent (W3C trace context)', () => {
  test('takes a valid one, and a later version by its first four fields', () => {
    expect(parseTraceparent(TP)).toEqual({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', flags: '01' });
    expect(parseTraceparent(`01${TP.slice(2)}-more`)?.spanId).toBe('b7ad6b7169203331');
  });

  test.each([
    ['empty', ''],
    ['version ff', `ff${TP.slice(2)}`],
    ['version 00 with more fields', `${TP}-x`],
    ['upper case', TP.toUpperCase()],
    ['a zero trace id', `00-${'0'.repeat(32)}-b7ad6b7169203331-01`],
    ['a zero span id', `00-0af7651916cd43dd8448eb211c80319c-${'0'.repeat(16)}-01`],
    ['a short id', '00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01'],
  ])('ignores %s', (_, text) => {
    expect(parseTraceparent(text)).toBeUndefined();
  });
});

test('keyPairs skips what is malformed', () => {
  expect(keyPairs('a=1,,=2,b,c=%E0%A4%A,d= x ')).toEqual({ a: '1', d: 'x' });
});
