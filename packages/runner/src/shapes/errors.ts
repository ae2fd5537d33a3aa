/**
 * A result file that could not be written (a full disk, a folder gone): the run stops, what is on
 * disk stays consistent (run.json lists exactly the result files there), the CLI exits 1 with the
 * message.
 */
export class ResultsWriteError extends Error {
  readonly code = 'ERR_RESULTS_WRITE';
  readonly file: string;
  constructor(file: string, cause: unknown) {
    const errno = (cause as NodeJS.ErrnoException).code;
    const why =
      errno === 'ENOSPC' ? 'ENOSPC: no space left on device' : (errno ?? (cause as Error).message);
    super(
      `cannot write ${file} (${why}); the results written before it are complete and listed in run.json`,
      { cause },
    );
    this.name = 'ResultsWriteError';
    this.file = file;
  }
}

/** A mistake in the command line or a scenario: the CLI exits 2 and prints the message. */
export class UsageError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'UsageError';
    this.code = code;
  }
}
