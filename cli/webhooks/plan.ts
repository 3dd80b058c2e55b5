/**
 * The webhook diff, pure: what a source has against what the pipeline wants. A subscription
 * counts as ours when its address is the target or ends in the same `/webhooks/{source}` path
 * (an older deployment's host); subscriptions of other integrations on the account are listed
 * as foreign and never touched. Per wanted topic: one subscription at the target is `ok`; none
 * there but one of ours elsewhere is a `wrong address` (moved); none at all is `missing`; our
 * duplicates and our subscriptions to topics the pipeline does not want are `extra` (removed).
 */
export interface Subscription {
  id: string;
  /** Topics (Shopify and Recharge: one; a Stripe endpoint: its enabled events). */
  topics: string[];
  address: string;
  /** A Stripe endpoint's `api_version` (null: the account's default). */
  apiVersion?: string | null;
}

export interface Plan {
  ok: Array<{ id: string; topic: string }>;
  missing: Array<{ topic: string }>;
  wrongAddress: Array<{ id: string; topic: string; from: string }>;
  extra: Array<{ id: string; topics: string[]; address: string }>;
  foreign: Array<{ id: string; topics: string[]; address: string }>;
}

const pathOf = (address: string) => {
  try {
    return new URL(address).pathname.replace(/\/+$/, "");
  } catch {
    return address;
  }
};

export function isOurs(address: string, target: string): boolean {
  return address === target || pathOf(address) === pathOf(target);
}

/** One subscription per topic (Shopify, Recharge). */
export function planTopics(existing: Subscription[], wanted: readonly string[], target: string): Plan {
  const plan: Plan = { ok: [], missing: [], wrongAddress: [], extra: [], foreign: [] };
  const ours = existing.filter((s) => isOurs(s.address, target));
  plan.foreign = existing.filter((s) => !isOurs(s.address, target)).map((s) => ({ id: s.id, topics: s.topics, address: s.address }));
  const used = new Set<string>();
  for (const topic of wanted) {
    const forTopic = ours.filter((s) => s.topics.includes(topic));
    const exact = forTopic.find((s) => s.address === target);
    const moved = exact ? undefined : forTopic[0];
    if (exact) {
      plan.ok.push({ id: exact.id, topic });
      used.add(exact.id);
    } else if (moved) {
      plan.wrongAddress.push({ id: moved.id, topic, from: moved.address });
      used.add(moved.id);
    } else {
      plan.missing.push({ topic });
    }
  }
  for (const s of ours) if (!used.has(s.id)) plan.extra.push({ id: s.id, topics: s.topics, address: s.address });
  return plan;
}

export interface EndpointPlan {
  /** The endpoint kept (at the target, or ours elsewhere to be moved); null: one must be created. */
  keep: Subscription | null;
  move: boolean;
  missingEvents: string[];
  extraEvents: string[];
  extra: Subscription[];
  foreign: Subscription[];
}

/** One endpoint for all events (Stripe). */
export function planEndpoint(existing: Subscription[], wanted: readonly string[], target: string): EndpointPlan {
  const ours = existing.filter((s) => isOurs(s.address, target));
  const keep = ours.find((s) => s.address === target) ?? ours[0] ?? null;
  const have = new Set(keep?.topics ?? []);
  return {
    keep,
    move: keep !== null && keep.address !== target,
    missingEvents: keep ? wanted.filter((e) => !have.has(e)) : [...wanted],
    extraEvents: keep ? [...have].filter((e) => !wanted.includes(e)) : [],
    extra: ours.filter((s) => s !== keep),
    foreign: existing.filter((s) => !isOurs(s.address, target)),
  };
}

export function inSync(plan: Plan): boolean {
  return plan.missing.length === 0 && plan.wrongAddress.length === 0 && plan.extra.length === 0;
}

export function endpointInSync(plan: EndpointPlan): boolean {
  return plan.keep !== null && !plan.move && plan.missingEvents.length === 0 && plan.extraEvents.length === 0 && plan.extra.length === 0;
}
