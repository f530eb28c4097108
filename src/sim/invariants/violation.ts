/** An invariant violation: docs/invariants.md. */
export interface Violation {
  /** I1 .. I13 */
  id: string;
  event: number;
  tid: number;
  /** The block (placement and address), slab or thread concerned. */
  subject: string;
  /** One line. */
  message: string;
  /** The events that led there, e.g. "allocated at event 12 by thread 0". */
  history: string[];
}

export type ChecksMode = 'full' | 'fast' | 'off';
