/** Removes secrets (and URL passwords) from text bound for logs, errors and health output. */
export class Redactor {
  private readonly secrets: string[];

  constructor(secrets: Array<string | undefined>) {
    // Longest first, so a secret containing another is removed whole.
    this.secrets = secrets
      .filter((s): s is string => typeof s === 'string' && s.length >= 4)
      .sort((a, b) => b.length - a.length);
  }

  text(value: string): string {
    let out = value.replace(/(\/\/[^:/@\s]*:)[^@/\s]+@/g, '$1***@');
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    return out;
  }

  /** An error's message (or any thrown value), redacted and kept to one short line. */
  error(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    const oneLine = this.text(message).replace(/\s+/g, ' ').trim();
    return oneLine.length > 300 ? `${oneLine.slice(0, 297)}...` : oneLine;
  }
}
