/**
 * Whether a shop has the app installed (`shop_installs`). `app/uninstalled` marks it uninstalled;
 * any later webhook of the shop (Shopify sends them again only after a re-install) marks it
 * installed. Each change applies only when its event is newer than the last one, so a late
 * delivery cannot flip it back. The jobs read it through `uninstalledShops`.
 */
import type { Envelope } from "../shared/envelope";
import { type DatabaseEnv, everyDatabase, shopDatabase } from "./database";
import type { Planner } from "./plan";

const MARK = `
INSERT INTO shop_installs (shop, status, changed_at, last_event_id) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (shop) DO UPDATE SET status = excluded.status, changed_at = excluded.changed_at,
  last_event_id = excluded.last_event_id
WHERE excluded.changed_at > shop_installs.changed_at AND shop_installs.status <> excluded.status`;

export const planUninstalled: Planner = async (env, event) => {
  const e = event.envelope;
  if (e.shop === null) return { kind: "quarantine", reason: "invalid_payload", detail: "no shop domain" };
  const st = shopDatabase(env, e.shop).prepare(MARK).bind(e.shop, "uninstalled", e.eventAt, e.eventId);
  return { kind: "apply", statements: [st], note: "shop marked uninstalled" };
};

/** Whether `e` shows its shop has the app installed (a live webhook other than the uninstall itself). */
export function showsInstalled(e: Envelope): e is Envelope & { shop: string } {
  return e.source === "shopify" && e.shop !== null && e.origin === "webhook" && e.topic !== "app/uninstalled";
}

/** A webhook of a shop marked uninstalled, newer than the mark: the app was installed again. */
export function reinstallStatement(db: D1Database, e: Envelope): D1PreparedStatement | null {
  if (!showsInstalled(e)) return null;
  return db
    .prepare(
      `UPDATE shop_installs SET status = 'installed', changed_at = ?2, last_event_id = ?3
       WHERE shop = ?1 AND status = 'uninstalled' AND changed_at < ?2`,
    )
    .bind(e.shop, e.eventAt, e.eventId);
}

/** Every shop marked uninstalled, from every database (a routed shop's mark is in its own). */
export async function uninstalledShops(env: DatabaseEnv): Promise<Set<string>> {
  const out = new Set<string>();
  for (const { db } of everyDatabase(env)) {
    const r = await db.prepare("SELECT shop FROM shop_installs WHERE status = 'uninstalled'").all<{ shop: string }>();
    for (const x of r.results) out.add(x.shop);
  }
  return out;
}
