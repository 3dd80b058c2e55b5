/**
 * Durable acceptance: the webhook is answered 200 only after this resolves.
 * Normally the body rides in the queue message. A body that would push the
 * message past the queue's size limit, or that is not UTF-8 (a string field
 * cannot carry it exactly), is first written to its final R2 key (raw, or
 * quarantine) and the message carries `bodyKey` instead (claim check).
 */
import { isJson, putOnce, quarantineObject, rawEventObject } from "../shared/archive";
import { type Envelope, envelopeSchema, overMessageLimit } from "../shared/envelope";
import { AppError } from "../shared/errors";
import { describeError, log } from "../shared/log";
import { recordMetric } from "../shared/metrics";
import { resourceFor } from "../shared/topics";
import type { Intake } from "./intake";

export interface Accepted {
  envelope: Envelope;
  claimCheck: boolean;
}

export async function acceptEvent(
  env: Env,
  intake: Intake,
  body: Uint8Array,
  text: string | null,
  receivedAt: string,
): Promise<Accepted> {
  const head = { ...intake, eventAt: intake.eventAt ?? receivedAt, receivedAt, origin: "webhook" as const };
  let envelope: Envelope = envelopeSchema.parse({ v: 1, ...head, body: text ?? "" });
  const claimCheck = text === null || overMessageLimit(envelope);

  try {
    if (claimCheck) {
      const resource = resourceFor(intake.source, intake.topic);
      const obj =
        text === null
          ? await quarantineObject(head, "not_utf8", body, null)
          : resource !== null && isJson(text)
            ? await rawEventObject(head, resource, text)
            : await quarantineObject(head, resource === null ? "unknown_topic" : "invalid_json", body, text);
      await putOnce(env.LAKE, obj);
      envelope = envelopeSchema.parse({ v: 1, ...head, bodyKey: obj.key });
    }
    await env.EVENTS.send(envelope, { contentType: "json" });
  } catch (err) {
    log.error("webhook not accepted", { source: intake.source, eventId: intake.eventId, error: describeError(err) });
    throw new AppError(503, "unavailable", "The event could not be stored durably; retry the delivery.", {
      cause: err,
    });
  }
  recordMetric(env, { stage: "accepted", source: intake.source, topic: intake.topic, origin: "webhook" });
  return { envelope, claimCheck };
}
