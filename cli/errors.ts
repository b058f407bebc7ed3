/**
 * The CLI's two kinds of failure and their exit codes: a UsageError (2) for a
 * command line that cannot be run, a CliError (1) for anything that went wrong
 * while running it (the API said no, an operation failed, a file is broken).
 */

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class CliError extends Error {
  readonly exitCode: number = EXIT_FAILURE;
  constructor(
    message: string,
    /** The API's machine-readable code, when the API answered with one. */
    readonly code?: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends Error {
  readonly exitCode = EXIT_USAGE;
  constructor(
    message: string,
    /** The command whose usage to print, if known. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
