/** A pattern that cannot run, with every problem found and where (a path into the pattern document). */
export class PatternError extends Error {
  readonly code = 'PATTERN_INVALID';
  constructor(readonly problems: Array<{ path: string; message: string }>) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  }
}
