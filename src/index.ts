/** Wires the Worker's handlers; each stage lives in its own folder. */

import { consumeDeadLetters } from "./consumers/dead-letter";
import { consumeEvents } from "./consumers/events";
import { runScheduled } from "./cron/jobs";
import { app } from "./ingress/app";

export { ShopCoordinator } from "./durable/shop-coordinator";
export { SubjectIndex } from "./durable/subject-index";

/** Queue names as declared in wrangler.toml; the DLQ has its own consumer. */
const DEAD_LETTER_QUEUE = "commerce-events-dlq";

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    if (batch.queue === DEAD_LETTER_QUEUE) return consumeDeadLetters(batch, env);
    return consumeEvents(batch, env);
  },
  async scheduled(controller, env) {
    await runScheduled(controller, env);
  },
} satisfies ExportedHandler<Env, unknown>;
