/**
 * A local mirror of Shopify's leaky bucket for one shop, shared by every caller in
 * the coordinator. A caller reserves a query's requested cost before sending it and
 * waits (FIFO, a refused query goes back to the front) until the mirror holds that
 * many points; each response resets the mirror to Shopify's `currentlyAvailable`
 * minus what other callers still hold, which also refunds requested − actual.
 * Trade-off: reservations still in flight may already be counted by Shopify, so the
 * mirror errs low (a little idle capacity) rather than high (THROTTLED responses).
 * Until the first response tells the bucket's size, one probe call runs at a time.
 */

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

interface Waiter {
  cost: number;
  resolve: (ticket: number) => void;
}

export interface BudgetSnapshot {
  known: boolean;
  available: number;
  maximum: number;
  restoreRate: number;
  inFlight: number;
  waiting: number;
}

export class RateBudget {
  private known = false;
  private available = 0;
  private maximum = 0;
  private restoreRate = 0;
  private at: number;
  private blockedUntil = 0;
  private nextTicket = 1;
  private readonly inFlight = new Map<number, number>();
  private readonly waiters: Waiter[] = [];
  private timer: unknown = null;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly clock: Clock = systemClock) {
    this.at = clock.now();
  }

  /** Resolves with a ticket once `cost` points are reserved; `first` puts the caller ahead of the queue. */
  acquire(cost: number, first = false): Promise<number> {
    return this.acquireBy(cost, first, Number.POSITIVE_INFINITY) as Promise<number>;
  }

  /**
   * As `acquire`, but gives up at `deadline` (epoch ms of the clock): the caller leaves the queue
   * and gets null, so a caller with a wall-time budget (a 30 s cron run) is not kept past it.
   */
  acquireBy(cost: number, first: boolean, deadline: number): Promise<number | null> {
    return new Promise((resolve) => {
      let timer: unknown = null;
      const waiter: Waiter = {
        cost: Math.max(0, cost),
        resolve: (ticket) => {
          if (timer !== null) this.clock.clearTimeout(timer);
          resolve(ticket);
        },
      };
      if (first) this.waiters.unshift(waiter);
      else this.waiters.push(waiter);
      this.pump();
      if (!this.waiters.includes(waiter) || !Number.isFinite(deadline)) return;
      timer = this.clock.setTimeout(
        () => {
          const at = this.waiters.indexOf(waiter);
          if (at < 0) return;
          this.waiters.splice(at, 1);
          resolve(null);
          // A smaller request behind it may fit now.
          this.pump();
        },
        Math.max(0, deadline - this.clock.now()),
      );
    });
  }

  /** The call was answered and charged: adopt Shopify's view of the bucket (refunding the difference). */
  settle(ticket: number, actualCost: number | null, status: ThrottleStatus | null): void {
    const reserved = this.inFlight.get(ticket) ?? 0;
    this.inFlight.delete(ticket);
    this.refill();
    if (status) this.adopt(status);
    else if (actualCost !== null) this.available = Math.min(this.maximum, this.available + reserved - actualCost);
    this.pump();
  }

  /**
   * The call was refused (THROTTLED, or HTTP 429) and not charged. With a throttle
   * status the mirror adopts it; without one (429) nobody is served for `retryAfterMs`.
   */
  refuse(ticket: number, status: ThrottleStatus | null, retryAfterMs: number): void {
    const reserved = this.inFlight.get(ticket) ?? 0;
    this.inFlight.delete(ticket);
    this.refill();
    if (status) this.adopt(status);
    else {
      this.available = Math.min(this.available + reserved, 0);
      this.blockedUntil = Math.max(this.blockedUntil, this.clock.now() + retryAfterMs);
    }
    this.pump();
  }

  /** The call failed before an answer: whether it was charged is unknown, so the reservation stays spent. */
  abandon(ticket: number): void {
    this.inFlight.delete(ticket);
    this.pump();
  }

  snapshot(): BudgetSnapshot {
    this.refill();
    return {
      known: this.known,
      available: this.available,
      maximum: this.maximum,
      restoreRate: this.restoreRate,
      inFlight: this.inFlight.size,
      waiting: this.waiters.length,
    };
  }

  private adopt(status: ThrottleStatus): void {
    this.maximum = status.maximumAvailable;
    this.restoreRate = status.restoreRate;
    let held = 0;
    for (const r of this.inFlight.values()) held += r;
    this.available = Math.min(status.maximumAvailable, status.currentlyAvailable) - held;
    this.known = true;
    this.at = this.clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    if (this.known) {
      this.available = Math.min(this.maximum, this.available + ((now - this.at) / 1000) * this.restoreRate);
    }
    this.at = now;
  }

  private pump(): void {
    this.refill();
    const now = this.clock.now();
    while (this.waiters.length > 0) {
      if (now < this.blockedUntil) {
        this.wake(this.blockedUntil - now);
        return;
      }
      const head = this.waiters[0] as Waiter;
      if (!this.known) {
        // Probe: one call at a time until a response tells the bucket's size and rate.
        if (this.inFlight.size > 0) return;
        this.grant(head, 0);
        continue;
      }
      const need = Math.min(head.cost, this.maximum);
      if (this.available < need) {
        const rate = this.restoreRate > 0 ? this.restoreRate : 1;
        this.wake(((need - this.available) / rate) * 1000);
        return;
      }
      this.available -= need;
      this.grant(head, need);
    }
  }

  private grant(waiter: Waiter, reserved: number): void {
    this.waiters.shift();
    const ticket = this.nextTicket++;
    this.inFlight.set(ticket, reserved);
    waiter.resolve(ticket);
  }

  private wake(ms: number): void {
    const at = this.clock.now() + Math.max(1, Math.ceil(ms));
    if (this.timer !== null && this.timerAt <= at) return;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.pump();
    }, at - this.clock.now());
  }
}
