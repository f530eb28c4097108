/** Exit codes: 0 clean, 1 a problem was found, 2 bad input or usage. */
export const EXIT_OK = 0;
export const EXIT_FOUND = 1;
export const EXIT_USAGE = 2;

/** An expected failure of the user's input: printed as one line, exit code 2. */
export class UsageError extends Error {}
