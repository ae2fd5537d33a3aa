export class LoadgenError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'LoadgenError';
    this.code = code;
  }
}
