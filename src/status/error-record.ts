/**
 * The error `status()` reports: the current one (cleared on recovery), and the last one seen with
 * its time, which stays after recovery so an operator can still read what happened.
 */
export class ErrorRecord {
  current: string | null = null;
  previous: string | null = null;
  at: number | null = null;

  set(error: string | null): void {
    if (error !== null && error !== this.current) {
      this.previous = error;
      this.at = Date.now();
    }
    this.current = error;
  }
}
