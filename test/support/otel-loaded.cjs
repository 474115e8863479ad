// Preloaded into the CLI (NODE_OPTIONS=--require) by tests that check the OpenTelemetry SDK
// loads only when a run exports a trace: at exit, writes how many @opentelemetry modules were
// loaded (the SDK's packages resolve to CommonJS, so they show in require.cache), and which other
// packages that load on demand did (listr2, the vendors' SDKs, the MCP SDK), to the file
// FACTORY_TEST_OTEL_LOADED names. Other Node processes the CLI starts are left alone.
const { writeFileSync } = require('node:fs');

const out = process.env.FACTORY_TEST_OTEL_LOADED;
if (out && /factory\.js$/.test(process.argv[1] ?? '')) {
  process.on('exit', () => {
    const files = Object.keys(require.cache);
    const loaded = files.filter((f) => f.includes('/@opentelemetry/'));
    const others = ['listr2', '@anthropic-ai/sdk', 'openai', '@modelcontextprotocol/sdk'].filter((p) => files.some((f) => f.includes(`/node_modules/${p}/`)));
    writeFileSync(out, JSON.stringify({ loaded: loaded.length, others }));
  });
}
