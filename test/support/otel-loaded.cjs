// Preloaded into the CLI (NODE_OPTIONS=--require) by tests that check the OpenTelemetry SDK
// loads only when a run exports a trace: at exit, writes whether any @opentelemetry module was
// loaded (the SDK's packages resolve to CommonJS, so they show in require.cache) to the file
// FACTORY_TEST_OTEL_LOADED names. Other Node processes the CLI starts are left alone.
const { writeFileSync } = require('node:fs');

const out = process.env.FACTORY_TEST_OTEL_LOADED;
if (out && /factory\.js$/.test(process.argv[1] ?? '')) {
  process.on('exit', () => {
    const loaded = Object.keys(require.cache).filter((f) => f.includes('/@opentelemetry/'));
    writeFileSync(out, JSON.stringify({ loaded: loaded.length }));
  });
}
