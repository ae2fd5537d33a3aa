/** A mistake in the command line or a scenario: the CLI exits 2 and prints the message. */
export class UsageError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'UsageError';
    this.code = code;
  }
}
