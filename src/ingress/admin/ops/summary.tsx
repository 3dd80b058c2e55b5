/**
 * The first thing on the page: is every source sending (freshness), and is anything held back
 * (dead letters, quarantine) or alerting. Each tile links to the section with the detail.
 */
import type { Child } from "hono/jsx";
import type { OpsData, StreamSummary } from "../ops-data";
import { When } from "./time";

const SOURCE_NAMES: Record<string, string> = { shopify: "Shopify", stripe: "Stripe", recharge: "Recharge" };

/** A source is fresh when its newest event, over all its shops, is within its limit. */
function sourceFreshness(streams: StreamSummary[], source: string) {
  const mine = streams.filter((s) => s.source === source);
  const last = mine.map((s) => s.lastReceivedAt).reduce<string | null>((a, b) => (b && (!a || b > a) ? b : a), null);
  const newest = mine.find((s) => s.lastReceivedAt === last);
  const silentShops = mine.filter((s) => s.shop !== "" && s.lastReceivedAt !== null && !s.fresh).length;
  return { last, fresh: newest?.fresh ?? false, limit: mine[0]?.limitMinutes ?? 0, silentShops };
}

function Tile(props: { id: string; href: string; state: "ok" | "warn" | "fail"; title: string; children?: Child }) {
  return (
    <a class={`tile ${props.state}`} id={props.id} href={props.href}>
      <span class="tile-title">{props.title}</span>
      {props.children}
    </a>
  );
}

export function Summary(props: { d: OpsData }) {
  const { d } = props;
  const count = (status: string) => d.streams.reduce((n, s) => n + (s.byStatus[status] ?? 0), 0);
  const failed = count("failed");
  const quarantined = count("quarantined");
  const openAlerts = d.alerts.filter((a) => a.status !== "sent").length;
  return (
    <section id="summary" class="tiles" aria-label="At a glance">
      {["shopify", "stripe", "recharge"].map((source) => {
        const f = sourceFreshness(d.streams, source);
        const state = f.last === null ? "warn" : f.fresh ? (f.silentShops > 0 ? "warn" : "ok") : "fail";
        return (
          <Tile id={`fresh-${source}`} href="#streams" state={state} title={SOURCE_NAMES[source] ?? source}>
            <span class="tile-value">{f.last === null ? "no events yet" : f.fresh ? "fresh" : "silent"}</span>
            <span class="tile-note">
              last event <When at={f.last} now={d.now} /> · limit {f.limit} min
              {f.silentShops > 0 ? ` · ${f.silentShops} shop(s) silent` : ""}
            </span>
          </Tile>
        );
      })}
      <Tile id="tile-dead-letters" href="#dead-letters" state={failed > 0 ? "fail" : "ok"} title="Dead letters">
        <span class="tile-value">{failed} held back</span>
        <span class="tile-note">
          {d.status.deadLetter.objects}
          {d.status.deadLetter.truncated ? "+" : ""} object(s) in <code>dead-letter/</code>
        </span>
      </Tile>
      <Tile id="tile-quarantine" href="#quarantine" state={quarantined > 0 ? "warn" : "ok"} title="Quarantined">
        <span class="tile-value">{quarantined} held back</span>
        <span class="tile-note">
          {d.status.quarantine.objects}
          {d.status.quarantine.truncated ? "+" : ""} object(s) in <code>quarantine/</code>
        </span>
      </Tile>
      <Tile id="tile-alerts" href="#alerts" state={openAlerts > 0 ? "warn" : "ok"} title="Alerts">
        <span class="tile-value">{openAlerts} open</span>
        <span class="tile-note">
          D1{" "}
          {d.status.d1.bytes === null
            ? "size unknown"
            : `${(d.status.d1.bytes / 1e6).toFixed(1)} MB of ${d.status.d1.limitBytes / 1e9} GB`}
        </span>
      </Tile>
    </section>
  );
}
