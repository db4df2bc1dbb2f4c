// `npm start -- [CC ...] [options]` / the package's `flagsync` bin: flags2's CLI for the flagsync API.
// The SDK warns on Node < 22 when a client is built; set before any of it loads.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { main } = await import('../local/cli-main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything is closed by now, so the process should end on its own; if something still holds it, say so and leave.
setTimeout(() => {
  process.stderr.write('flagsync: warning: something was still running after shutdown; exiting anyway\n');
  process.exit(code);
}, 3_000).unref();
