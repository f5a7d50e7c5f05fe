/** Runs the CLI in-process for tests: what it printed, what it wrote to stderr, its exit code. */
import { vi } from 'vitest';
import { main } from './main';

export async function runCli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const lines: string[] = [];
  let err = '';
  const spyErr = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  const spyOut = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const code = await main(argv, (s) => lines.push(s));
    return { code, out: lines.join('\n'), err };
  } finally {
    spyErr.mockRestore();
    spyOut.mockRestore();
  }
}
