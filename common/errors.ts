/**
 * Named error classes with stable codes (tests assert on `name`/`code`, never on message text).
 */

/** Base for every fedmesh error: a stable `code` beside the human message. */
export class FedmeshError extends Error {
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FedmeshError';
    this.code = code;
  }
}

/** A command line, configuration file or option object was rejected. Nothing was changed. */
export class ConfigError extends FedmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_CONFIG', options);
    this.name = 'ConfigError';
  }
}

/** A required external program or resource is missing or failed to start. */
export class PrerequisiteError extends FedmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_PREREQUISITE', options);
    this.name = 'PrerequisiteError';
  }
}

/** A wait (readiness, condition) ran past its deadline. */
export class DeadlineError extends FedmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_DEADLINE', options);
    this.name = 'DeadlineError';
  }
}
