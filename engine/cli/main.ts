/** llm-playground CLI. Subcommands are added by the engine issues (inspect, tokenize, generate, forward). */
const [cmd] = process.argv.slice(2);
if (!cmd || cmd === '--help' || cmd === '-h') {
  console.log('usage: llm-playground <inspect|tokenize|generate|forward> [options] [--json]');
  process.exit(cmd ? 0 : 1);
}
console.error(`llm-playground: unknown command "${cmd}"`);
process.exit(2);
