// Runs the CLI's entry function with the given arguments, output discarded, and prints its exit
// code and peak resident memory as JSON: how bench/ measures memory without an external tool.
// The bundle bin/factory.js loads, as a user's run does (with its code cache).
import { createRequire } from 'node:module';

const { main } = createRequire(import.meta.url)('../../dist/bundle/factory.js');
const sink = { write: () => true, isTTY: false };
const code = await main(process.argv.slice(2), { stdout: sink, stderr: sink, cwd: process.cwd(), env: process.env });
process.stdout.write(JSON.stringify({ code, maxRssKB: process.resourceUsage().maxRSS }));
