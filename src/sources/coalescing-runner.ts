/**
 * Runs a task one at a time: a request while it runs earns exactly one more run after it, however
 * many requests came (a burst of notices is one reload, and the last one is never missed).
 */
export class CoalescingRunner {
  private running?: Promise<void>;
  private again = false;

  constructor(private readonly task: () => Promise<void>) {}

  request(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.task()
      .catch(() => undefined)
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.request();
        }
      });
  }
}
