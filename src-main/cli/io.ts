/**
 * Output of the command line: human lines (with a progress bar on a TTY) or one JSON document.
 */
import { isTerminal } from './terminal';

export interface CliIO {
  /** `--json`: print exactly one JSON document. */
  json: boolean;
  /** stdout is a terminal (progress bars allowed). */
  isTTY: boolean;
  out(text: string): void;
  err(text: string): void;
  /** Asks a yes/no question; present only when stdin and stderr are a terminal and not --json. */
  ask?: (question: string) => Promise<boolean>;
}

/** Reads one answer from the terminal; "y" or "yes" (any case) is yes, anything else no. */
async function askTerminal(question: string): Promise<boolean> {
  // Loaded when a question is asked: most commands never ask one.
  const { createInterface } = require('node:readline/promises') as typeof import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^\s*y(es)?\s*$/i.test(await rl.question(question));
  } finally {
    rl.close();
  }
}

/** The process's own streams. */
export function processIO(json: boolean): CliIO {
  // isTerminal, not process.stdin.isTTY: touching process.stdin sets up a stream (and its modules)
  // that only a question would use.
  const interactive = !json && isTerminal(0) && isTerminal(2);
  return {
    json,
    isTTY: !json && isTerminal(1),
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
    ...(interactive ? { ask: askTerminal } : {}),
  };
}
