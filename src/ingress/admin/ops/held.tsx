/** Dead letters and quarantined events: each with its ledger status now, why it is held, and a Replay button. */
import type { HeldWithLedger } from "../held-back";
import { Table, Td } from "./table";
import { When } from "./time";

/** Replayed and now in the tables: nothing left to press. */
const settled = (o: HeldWithLedger) => o.ledgerStatus === "applied" || o.ledgerStatus === "archived";

/** Why the event is held back now: the ledger's latest word (a replay's outcome), else the object's reason. */
const whyHeld = (o: HeldWithLedger) => o.ledgerError ?? o.ledgerNote ?? o.reason ?? "";

export function Held(props: {
  id: string;
  title: string;
  held: { objects: HeldWithLedger[]; truncated: boolean };
  csrf: string | null;
  now: string;
}) {
  return (
    <section id={props.id}>
      <h2>
        {props.title}{" "}
        <span class="muted">
          (newest {props.held.objects.length}
          {props.held.truncated ? ", more exist" : ""})
        </span>
      </h2>
      <Table
        head={["when", "source", "topic", "event id", "ledger now", "why", ""]}
        empty="none"
        rows={props.held.objects.length}
      >
        {props.held.objects.map((o) => (
          <tr data-key={o.key}>
            <Td l="when" class="nowrap">
              <When at={o.uploaded} now={props.now} />
            </Td>
            <Td l="source">{o.source ?? "?"}</Td>
            <Td l="topic">{o.topic ?? "?"}</Td>
            <Td l="event id" class="wrap">
              <code>{o.eventId ?? o.key}</code>
            </Td>
            <Td l="ledger now" class="ledger-status">
              {o.ledgerStatus ?? "-"}
            </Td>
            <Td l="why" class="why wrap">
              {whyHeld(o)}
            </Td>
            <Td l="">
              {props.csrf !== null && !settled(o) ? (
                <form method="post" action="/ops/replay">
                  <input type="hidden" name="key" value={o.key} />
                  <input type="hidden" name="csrf" value={props.csrf} />
                  <button type="submit">Replay</button>
                </form>
              ) : null}
            </Td>
          </tr>
        ))}
      </Table>
    </section>
  );
}
