// Rate-budget benchmark: 4 concurrent callers issue Admin GraphQL queries of mixed cost
// (about 30 to 300 points) through one shop's ShopifyAdmin (the coordinator's client and
// RateBudget) against the fake Admin API (bucket 2000, restore 100/s) for 60 s.
// Printed: achieved points/s ÷ restore rate (steady state: the initial full bucket is not
// counted as restored capacity) and the THROTTLED count. Goal: >= 0.9 with zero THROTTLED.
// Baseline in the same run: the same callers with no shared budget, retrying THROTTLED
// after 1 s (what a naive client does), for BENCH_BASELINE_SECONDS (default 20).
import { bundle } from "./lib/bundle.mjs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const BASELINE_SECONDS = Number(process.env.BENCH_BASELINE_SECONDS ?? 20);
const CALLERS = 4;
const SHOP = "bench-shop.myshopify.com";

const QUERIES = [
  // ~2 + 10 × 4 = 42
  {
    query: "query($n:Int!){orders(first:$n){edges{node{id name totalPriceSet{shopMoney{amount currencyCode}}}}}}",
    n: 10,
  },
  // ~2 + 60 × 4 = 242
  {
    query: "query($n:Int!){orders(first:$n){edges{node{id name totalPriceSet{shopMoney{amount currencyCode}}}}}}",
    n: 60,
  },
  // ~2 + 40 × 2 = 82
  { query: "query($n:Int!){customers(first:$n){nodes{id amountSpent{amount}}}}", n: 40 },
  // ~2 + 10 × (1 + 2 + 20) = 232
  { query: "query($n:Int!){products(first:$n){nodes{id title variants(first:20){nodes{id price}}}}}", n: 10 },
  // 2 + 25 × 1 = 27
  { query: "query($n:Int!){products(first:$n){edges{cursor node{id handle}}pageInfo{hasNextPage endCursor}}}", n: 25 },
];

export async function run() {
  const m = await bundle("rate-budget", {
    FakeShopifyAdmin: "test/fakes/shopify-admin.ts#FakeShopifyAdmin",
    makeShopData: "test/fakes/shopify-data.ts#makeShopData",
    ShopifyAdmin: "src/durable/admin-graphql.ts#ShopifyAdmin",
  });
  const data = m.makeShopData(SHOP, { orders: 200, customers: 200, products: 60, variantsPerProduct: 3 });

  const fake = new m.FakeShopifyAdmin(SHOP, data, { bucketSize: 2000, restoreRate: 100 });
  const admin = new m.ShopifyAdmin({
    shop: SHOP,
    token: fake.token,
    apiVersion: "2026-01",
    url: `https://${SHOP}/admin/api/2026-01/graphql.json`,
    fetch: (input, init) => fake.handle(new Request(input, init)),
  });
  const ours = await drive(fake, SECONDS, async (q, rand) => {
    const r = await admin.request(q.query, { n: q.n });
    if (!r.ok) throw new Error(`query failed: ${r.error.kind} ${r.error.message}`);
    return rand;
  });

  const naiveFake = new m.FakeShopifyAdmin(SHOP, data, { bucketSize: 2000, restoreRate: 100 });
  const naive = await drive(naiveFake, BASELINE_SECONDS, async (q) => {
    for (;;) {
      const res = await naiveFake.handle(
        new Request(`https://${SHOP}/admin/api/2026-01/graphql.json`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-shopify-access-token": naiveFake.token },
          body: JSON.stringify({ query: q.query, variables: { n: q.n } }),
        }),
      );
      const body = await res.json();
      if (!body.errors) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  });

  const line = (name, r) =>
    `  ${name.padEnd(9)} ${String(r.seconds).padStart(3)} s  calls ${String(r.calls).padStart(5)}  points ${String(r.points).padStart(6)}  ` +
    `points/s ${r.pointsPerSecond.toFixed(1).padStart(6)}  utilization ${r.utilization.toFixed(3)}  THROTTLED ${r.throttled}`;
  console.log(line("budget", ours));
  console.log(line("naive", naive));
  console.log(
    `  utilization ratio budget/naive = ${(ours.utilization / naive.utilization).toFixed(2)}; ` +
      `budget utilization ${ours.utilization.toFixed(3)} (goal >= 0.9), THROTTLED ${ours.throttled} (goal 0); ` +
      `raw points/s ÷ restore incl. the initial bucket ${(ours.pointsPerSecond / 100).toFixed(3)}`,
  );
  return { ours, naive };
}

/** Runs CALLERS loops for `seconds`; utilization counts only points restored during the run. */
async function drive(fake, seconds, call) {
  const start = Date.now();
  const startAvailable = fake.currentlyAvailable();
  const end = start + seconds * 1000;
  let calls = 0;
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (Date.now() < end) {
        const q = QUERIES[Math.floor(rand() * QUERIES.length)];
        await call(q, rand);
        calls++;
      }
    }),
  );
  const elapsed = (Date.now() - start) / 1000;
  const endAvailable = fake.currentlyAvailable();
  const points = fake.stats.pointsCharged;
  const fromInitialBucket = Math.max(0, startAvailable - endAvailable);
  return {
    seconds: Math.round(elapsed),
    calls,
    points,
    pointsPerSecond: points / elapsed,
    utilization: (points - fromInitialBucket) / (elapsed * fake.restoreRate),
    throttled: fake.stats.throttled,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
