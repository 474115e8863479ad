// Runs the CLI's entry function with the given arguments, output discarded, and prints its exit
// code and peak resident memory as JSON: how bench/ measures memory without an external tool.
const { main } = await import('../../dist/cli/main.js');
const sink = { write: () => true, isTTY: false };
const code = await main(process.argv.slice(2), { stdout: sink, stderr: sink, cwd: process.cwd(), env: process.env });
process.stdout.write(JSON.stringify({ code, maxRssKB: process.resourceUsage().maxRSS }));
