/** Per source and shop: the last event, freshness, events per hour over 24 h and ledger counts by status. */
import type { StreamSummary } from "../ops-data";
import { HourlyChart } from "./chart";
import { Table, Td } from "./table";
import { When } from "./time";

const STATUSES = ["applied", "archived", "retrying", "quarantined", "failed"];

function Freshness(props: { s: StreamSummary }) {
  const { s } = props;
  if (s.silentMinutes === null) return <span class="badge warn">no events yet</span>;
  return (
    <span
      class={`badge ${s.fresh ? "ok" : "fail"}`}
      title={`silent for ${s.silentMinutes} min; limit ${s.limitMinutes} min`}
    >
      {s.fresh ? "fresh" : "silent"} · limit {s.limitMinutes} min
    </span>
  );
}

export function Streams(props: { streams: StreamSummary[]; now: string }) {
  return (
    <section id="streams">
      <h2>Sources and shops</h2>
      <Table
        head={["source", "shop", "last event", "freshness", "events per hour, 24 h", ...STATUSES]}
        empty="none"
        rows={props.streams.length}
      >
        {props.streams.map((s) => (
          <tr data-source={s.source} data-shop={s.shop}>
            <Td l="source">{s.source}</Td>
            <Td l="shop" class="wrap">
              {s.shop || <span class="muted">-</span>}
            </Td>
            <Td l="last event" class="nowrap">
              <When at={s.lastReceivedAt} now={props.now} />
              {s.lastEventAt ? (
                <div class="muted small">
                  event time <When at={s.lastEventAt} now={props.now} />
                </div>
              ) : null}
            </Td>
            <Td l="freshness">
              <Freshness s={s} />
            </Td>
            <Td l="events per hour, 24 h" class="chart-cell">
              <HourlyChart counts={s.perHour} label={`${s.source} ${s.shop}`.trim()} now={props.now} />
            </Td>
            {STATUSES.map((st) => (
              <Td l={st} class={`num${st === "failed" && (s.byStatus[st] ?? 0) > 0 ? " fail" : ""}`} data-status={st}>
                {String(s.byStatus[st] ?? 0)}
              </Td>
            ))}
          </tr>
        ))}
      </Table>
    </section>
  );
}
