import type { ErrorBody, ErrorCode } from '../../shared/protocol.js';

/** An error with the HTTP status and the body the client gets: `{"error": {"code", "message"}}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  get body(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}
