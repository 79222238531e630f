import { ConsoleLogger } from '@nestjs/common';

/** A Nest logger that keeps every line instead of printing it, so a test can count the log. */
export class CountingLogger extends ConsoleLogger {
  readonly lines: Array<{ level: string; message: string }> = [];

  override log(message: unknown): void {
    this.keep('log', message);
  }
  override warn(message: unknown): void {
    this.keep('warn', message);
  }
  override error(message: unknown): void {
    this.keep('error', message);
  }
  override debug(message: unknown): void {
    this.keep('debug', message);
  }
  override verbose(message: unknown): void {
    this.keep('verbose', message);
  }

  /** Warnings and errors whose text matches. */
  problems(match: RegExp = /./): string[] {
    return this.lines
      .filter((l) => (l.level === 'warn' || l.level === 'error') && match.test(l.message))
      .map((l) => l.message);
  }

  private keep(level: string, message: unknown): void {
    this.lines.push({ level, message: String(message) });
  }
}
