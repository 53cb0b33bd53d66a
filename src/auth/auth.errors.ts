/**
 * Why a request was not authenticated or not authorised. The exception filter maps each class to
 * its status and code (specification §4); `message` is safe to show to the caller.
 */
export abstract class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** No `Authorization: Bearer …` header. */
export class MissingTokenError extends AuthError {
  constructor() {
    super('The request has no bearer token');
  }
}

/** The token is malformed, badly signed, not yet valid, or for another issuer or audience. */
export class InvalidTokenError extends AuthError {}

/** The token's `exp` has passed. */
export class ExpiredTokenError extends AuthError {
  constructor() {
    super('The bearer token has expired');
  }
}

/** The token is valid but its subject is not the owner named in the path. */
export class OwnerMismatchError extends AuthError {
  constructor() {
    super("The token's subject is not the user in the path");
  }
}

/** The identity provider's key set could not be fetched, so no token can be checked right now. */
export class KeySetUnavailableError extends AuthError {
  constructor() {
    super("The identity provider's signing keys could not be fetched");
  }
}
