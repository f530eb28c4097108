/** A problem with a trace file, located precisely enough to be one line of output. */
export class TraceError extends Error {
  constructor(
    readonly file: string,
    readonly byteOffset: number,
    readonly eventIndex: number | null,
    readonly problem: string,
  ) {
    const where = eventIndex === null ? `byte ${byteOffset}` : `byte ${byteOffset} (event ${eventIndex})`;
    super(`${file}: ${where}: ${problem}`);
    this.name = 'TraceError';
  }
}
