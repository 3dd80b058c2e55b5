/**
 * Job leases in D1 (`job_leases`): a run takes `name` only when no one holds it or
 * the holder's lease has expired, in one conditional upsert, so two overlapping runs
 * cannot both win. Trade-off: a run that outlives its lease (longer than the TTL) can
 * overlap the next one; the TTL is set above the Cron Trigger's 15-minute wall limit
 * so that only a crashed holder is ever taken over.
 */

export const LEASE_TTL_MS = 16 * 60 * 1000;

const TAKE = `
INSERT INTO job_leases (name, holder, acquired_at, expires_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at,
  expires_at = excluded.expires_at
WHERE job_leases.expires_at <= excluded.acquired_at OR job_leases.holder = excluded.holder
RETURNING holder`;

export interface Lease {
  name: string;
  holder: string;
}

/** The lease, or null when another run holds it (the caller skips). */
export async function acquireLease(db: D1Database, name: string, holder: string, now: Date): Promise<Lease | null> {
  const expires = new Date(now.getTime() + LEASE_TTL_MS).toISOString();
  const row = await db.prepare(TAKE).bind(name, holder, now.toISOString(), expires).first<{ holder: string }>();
  return row?.holder === holder ? { name, holder } : null;
}

/** Who holds a lease now (for the skip log line). */
export async function leaseHolder(db: D1Database, name: string): Promise<{ holder: string; expiresAt: string } | null> {
  return db
    .prepare("SELECT holder, expires_at AS expiresAt FROM job_leases WHERE name = ?1")
    .bind(name)
    .first<{ holder: string; expiresAt: string }>();
}

export async function releaseLease(db: D1Database, lease: Lease): Promise<void> {
  await db.prepare("DELETE FROM job_leases WHERE name = ?1 AND holder = ?2").bind(lease.name, lease.holder).run();
}

/**
 * Runs `fn` under the lease `name`, or returns `{ skipped }` when another run holds it.
 * The lease is released even when `fn` throws.
 */
export async function withLease<T>(
  db: D1Database,
  name: string,
  holder: string,
  now: Date,
  fn: () => Promise<T>,
): Promise<{ skipped: false; value: T } | { skipped: true; heldBy: string | null }> {
  const lease = await acquireLease(db, name, holder, now);
  if (lease === null) return { skipped: true, heldBy: (await leaseHolder(db, name))?.holder ?? null };
  try {
    return { skipped: false, value: await fn() };
  } finally {
    await releaseLease(db, lease);
  }
}
