import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runCompact } from "../src/cron/compact/compact";
import { PEOPLE_VIEWS } from "../src/cron/compact/kpi-people";
import { runUpkeep, type UpkeepOptions } from "../src/cron/compact/upkeep";
import { inInvocation } from "./fakes/limits";
import { lakeMetadata, readLakeTable } from "./helpers/iceberg-read";
import { expectSnapshotsEqualD1 } from "./helpers/kpi-snapshots";

// The per-person KPI views are refreshed by one pass over ranges of profile ids, a part per
// lake-upkeep run. Here the ranges are two profiles and a run reads one, so the pass spans many
// runs; rows of their own: currencies XAG and XAU, ids prefixed `kpipeople-`.

const SHOP = "kpipeople.myshopify.com";
const PEOPLE = PEOPLE_VIEWS.map((v) => v.table);
let runs = 0;

async function upkeep(options: UpkeepOptions) {
  const result = await inInvocation("job lake-upkeep", () =>
    runUpkeep(env, { runId: `upkeep-people-${++runs}`, now: new Date() }, options),
  );
  expect(result.failed).toEqual([]);
  return result;
}

async function compact(tables: string[]) {
  await inInvocation("job compact", () =>
    runCompact(env, { runId: `compact-people-${++runs}`, now: new Date() }, { tables }),
  );
}

/** Runs the pass a range a run until it commits; returns the runs it took. */
async function passToTheEnd(): Promise<number> {
  for (let n = 1; n <= 60; n++) {
    const result = await upkeep({ kpiRefreshHours: 0, peopleRunRows: 1, peopleRangeProfiles: 2 });
    if (result.people?.committed) {
      expect(
        result.snapshots
          .map((s) => s.view)
          .filter((v) => PEOPLE.includes(v))
          .sort(),
      ).toEqual([...PEOPLE].sort());
      return n;
    }
    expect(result.people?.ranges).toBe(1);
  }
  throw new Error("the people pass did not commit in 60 runs");
}

/** The LTV table's snapshots with when each was computed. */
const lakeHistory = async () =>
  (await lakeMetadata("kpi", "analytics_customer_ltv")).snapshots.map((s) => ({
    asOf: (s.summary as Record<string, string>)["commerce.as-of"] ?? "",
  }));

const owedPeople = async () =>
  (
    await env.DB.prepare(
      "SELECT table_name FROM lake_changes WHERE dt = 'snapshot' AND table_name IN (SELECT value FROM json_each(?1)) ORDER BY 1",
    )
      .bind(JSON.stringify(PEOPLE))
      .all<{ table_name: string }>()
  ).results.map((r) => r.table_name);

/** Profile n's orders: LTVs with ties (decile 1 breaks them by profile id) and one- and two-order people. */
async function seed() {
  const at = (n: number) => `2031-06-${String(1 + (n % 28)).padStart(2, "0")}T08:00:00.000Z`;
  const statements: D1PreparedStatement[] = [];
  for (let n = 1; n <= 25; n++) {
    const p = `kpipeople-p${String(n).padStart(2, "0")}`;
    const currency = n > 23 ? "XAU" : "XAG";
    statements.push(
      env.DB.prepare(
        "INSERT INTO customer_profiles (id, email, created_at, updated_at, last_event_id) VALUES (?1, ?2, ?3, ?3, 'kpipeople-e')",
      ).bind(p, `${p}@kpipeople.test`, at(n)),
      env.DB.prepare(
        `INSERT INTO customer_identities (source, external_id, shop, profile_id, matched_by, created_at, updated_at, last_event_id)
         VALUES ('shopify', ?1, ?2, ?3, 'email', ?4, ?4, 'kpipeople-e')`,
      ).bind(`kpipeople-c${n}`, SHOP, p, at(n)),
    );
    for (let k = 0; k < 1 + (n % 2); k++) {
      statements.push(
        env.DB.prepare(
          `INSERT INTO shopify_orders (shop, id, customer_id, currency, total_price_minor, financial_status, created_at,
             processed_at, updated_at, event_at, last_event_id, origin)
           VALUES (?1, ?2, ?3, ?4, ?5, 'paid', ?6, ?6, ?6, ?6, 'kpipeople-e', 'webhook')`,
        ).bind(SHOP, `kpipeople-o${n}-${k}`, `kpipeople-c${n}`, currency, 1000 * (n % 4) + 7, at(n + k)),
      );
    }
  }
  await env.DB.batch(statements);
}

describe("the people pass", () => {
  it("refreshes the four per-person views a range per run, resuming, exactly as D1 computes them", async () => {
    await seed();
    await compact(["customer_profiles", "customer_identities", "shopify_orders"]);
    expect(await owedPeople()).toEqual([...PEOPLE].sort());

    // The first run reads one range and commits nothing: its progress and files wait in lake_upkeep.
    const first = await upkeep({ kpiRefreshHours: 0, peopleRunRows: 1, peopleRangeProfiles: 2 });
    expect(first.people).toEqual({ ranges: 1, rows: expect.any(Number), committed: false });
    expect(first.snapshots.filter((s) => PEOPLE.includes(s.view))).toEqual([]);
    const progress = await env.DB.prepare(
      "SELECT rebuild_after_key, rebuild_files FROM lake_upkeep WHERE table_name = 'analytics_customer_ltv'",
    ).first<{ rebuild_after_key: string; rebuild_files: string }>();
    expect(JSON.parse(progress?.rebuild_after_key ?? "null")).toEqual(expect.any(String));
    expect(JSON.parse(progress?.rebuild_files ?? "[]")).toHaveLength(1);
    const state = await env.LAKE.list({ prefix: "processed/kpi/.people-pass" });
    expect(state.objects.map((o) => o.key)).toEqual(["processed/kpi/.people-pass.json"]);

    // A new order of a person the pass has read already: the commit cannot hold it, so the views stay owed.
    const readAlready = JSON.parse(progress?.rebuild_after_key ?? '""') as string;
    const person = Number(readAlready.slice(-2));
    await env.DB.prepare(
      `INSERT INTO shopify_orders (shop, id, customer_id, currency, total_price_minor, financial_status, created_at,
         processed_at, updated_at, event_at, last_event_id, origin)
       VALUES (?1, 'kpipeople-late', ?2, 'XAG', 99999, 'paid', ?3, ?3, ?3, ?3, 'kpipeople-e', 'webhook')`,
    )
      .bind(SHOP, `kpipeople-c${person}`, "2031-06-29T08:00:00.000Z")
      .run();
    await compact(["shopify_orders"]);

    // Later runs go on from that range (each reads one, every sweep keeps the files written so far).
    expect(await passToTheEnd()).toBeGreaterThan(3);
    expect((await env.LAKE.list({ prefix: "processed/kpi/.people-pass" })).objects).toEqual([]);
    expect(await owedPeople()).toEqual([...PEOPLE].sort());
    const orders = await readLakeTable("kpi", "analytics_customer_orders");
    expect(orders.some((r) => r.id === "kpipeople-late")).toBe(false);
    expect(orders.filter((r) => String(r.id).startsWith("kpipeople-o"))).toHaveLength(25 + 13);

    // The next pass, begun after the write, holds it: the four snapshots equal the views in D1.
    await passToTheEnd();
    expect(await owedPeople()).toEqual([]);
    await expectSnapshotsEqualD1(PEOPLE);
    const top = (await readLakeTable("kpi", "analytics_high_value_customers")).filter((r) =>
      String(r.profile_id).startsWith("kpipeople-"),
    );
    // 23 XAG people give 3 in decile 1 (ties at 6,014 broken by profile id), 2 XAU people give 1.
    expect(top.map((r) => [r.currency, r.ltv_minor]).sort()).toEqual(
      [
        ["XAG", 6014n],
        ["XAG", 6014n],
        [
          "XAG",
          person % 4 === 3 ? 6014n + 99999n : BigInt(1000 * (person % 4) + 7) * BigInt(1 + (person % 2)) + 99999n,
        ],
        ["XAU", 2014n],
      ].sort(),
    );
  });

  it("starts the pass again when its running state is lost, and still ends exact", async () => {
    await env.DB.prepare("UPDATE shopify_orders SET total_price_minor = 5 WHERE shop = ?1 AND id = 'kpipeople-o1-0'")
      .bind(SHOP)
      .run();
    await compact(["shopify_orders"]);
    await upkeep({ kpiRefreshHours: 0, peopleRunRows: 1, peopleRangeProfiles: 2 });
    const started = await env.DB.prepare(
      "SELECT rebuild_started_at FROM lake_upkeep WHERE table_name = 'analytics_customer_ltv'",
    ).first<string>("rebuild_started_at");
    expect(started).not.toBeNull();
    await env.LAKE.delete("processed/kpi/.people-pass.json");
    await passToTheEnd();
    const history = await lakeHistory();
    expect((history.at(-1)?.asOf ?? "") > (started ?? "")).toBe(true);
    expect(await owedPeople()).toEqual([]);
    await expectSnapshotsEqualD1(PEOPLE);
  });
});
