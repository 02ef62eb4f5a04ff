/**
 * Output of the command line: human lines (with a progress bar on a TTY) or one JSON document.
 */
export interface CliIO {
  /** `--json`: print exactly one JSON document on stdout. */
  json: boolean;
  /** stdout is a terminal (progress bars allowed). */
  isTTY: boolean;
  out(text: string): void;
  err(text: string): void;
}

/** The process's own streams. */
export function processIO(json: boolean): CliIO {
  return {
    json,
    isTTY: Boolean(process.stdout.isTTY) && !json,
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
  };
}
