/** Small HTTP helpers for probing bench processes on loopback. */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The status of `GET path` as `user` (`Authorization: Bearer <user>`); 0 when unreachable. */
export async function statusOf(url: string, path: string, user?: string): Promise<number> {
  try {
    const response = await fetch(`${url}${path}`, {
      headers: user ? { authorization: `Bearer ${user}` } : {},
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

export async function jsonOf<T>(url: string, path: string): Promise<T | undefined> {
  try {
    const response = await fetch(`${url}${path}`);
    return response.ok ? ((await response.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

/** Polls `predicate` every `everyMs` until it holds; resolves whether it did before `deadline` (performance.now()). */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  deadline: number,
  everyMs = 1,
): Promise<boolean> {
  while (!(await predicate())) {
    if (performance.now() >= deadline) return false;
    await sleep(everyMs);
  }
  return true;
}
