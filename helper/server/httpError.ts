import type { ErrorBody, ErrorCode } from '../../shared/protocol.js';

/** An error with the HTTP status and the body the client gets: `{"error": {"code", "message"}}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    // An answer, not a bug: without a stack trace, whose capture through Express's layers cost more than the rest
    // of refusing a request without the token (profiled under a flood of them).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
  }

  get body(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}
