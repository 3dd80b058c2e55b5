/**
 * The `/ops` dashboard, server-rendered from `OpsData`. Values from outside (topics, shops,
 * error text, keys) are escaped by the JSX renderer. No token is ever part of `OpsData`.
 */
import type { Child } from "hono/jsx";
import type { HeldWithLedger } from "../held-back";
import type { OpsData, StreamSummary } from "../ops-data";
import { HourlyChart } from "./chart";
import { Layout } from "./layout";
import { PersonForm } from "./people";
import { SignOutButtons } from "./sign-in";

const outcomeClass = (o: string) =>
  o === "FAIL" || o === "failed" || o === "error" ? "fail" : o === "WARN" || o === "partial" ? "warn" : "ok";

function Table(props: { head: string[]; empty: string; children?: Child; rows: number }) {
  return (
    <table>
      <thead>
        <tr>
          {props.head.map((h) => (
            <th>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows === 0 ? (
          <tr>
            <td colspan={props.head.length} class="muted">
              {props.empty}
            </td>
          </tr>
        ) : (
          props.children
        )}
      </tbody>
    </table>
  );
}

function Freshness(props: { s: StreamSummary }) {
  const { s } = props;
  if (s.silentMinutes === null) return <span class="badge warn">no events yet</span>;
  return (
    <span class={`badge ${s.fresh ? "ok" : "fail"}`}>
      {s.fresh ? "fresh" : "silent"}: {s.silentMinutes} min / limit {s.limitMinutes} min
    </span>
  );
}

function Streams(props: { streams: StreamSummary[] }) {
  const statuses = ["applied", "archived", "retrying", "quarantined", "failed"];
  return (
    <section id="streams">
      <h2>Sources and shops</h2>
      <Table
        head={["source", "shop", "last event", "freshness", "events per hour, 24 h", ...statuses]}
        empty="none"
        rows={props.streams.length}
      >
        {props.streams.map((s) => (
          <tr data-source={s.source} data-shop={s.shop}>
            <td>{s.source}</td>
            <td>{s.shop || <span class="muted">-</span>}</td>
            <td>
              {s.lastReceivedAt ?? <span class="muted">never</span>}
              {s.lastEventAt ? <div class="muted">event time {s.lastEventAt}</div> : null}
            </td>
            <td>
              <Freshness s={s} />
            </td>
            <td>
              <HourlyChart counts={s.perHour} label={`${s.source} ${s.shop}`.trim()} />
            </td>
            {statuses.map((st) => (
              <td class={`num${st === "failed" && (s.byStatus[st] ?? 0) > 0 ? " fail" : ""}`} data-status={st}>
                {s.byStatus[st] ?? 0}
              </td>
            ))}
          </tr>
        ))}
      </Table>
    </section>
  );
}

/** Replayed and now in the tables: nothing left to press. */
const settled = (o: HeldWithLedger) => o.ledgerStatus === "applied" || o.ledgerStatus === "archived";

/** Why the event is held back now: the ledger's latest word (a replay's outcome), else the object's reason. */
const whyHeld = (o: HeldWithLedger) => o.ledgerError ?? o.ledgerNote ?? o.reason ?? "";

function Held(props: {
  id: string;
  title: string;
  held: { objects: HeldWithLedger[]; truncated: boolean };
  csrf: string | null;
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
            <td>{o.uploaded}</td>
            <td>{o.source ?? "?"}</td>
            <td>{o.topic ?? "?"}</td>
            <td>
              <code>{o.eventId ?? o.key}</code>
            </td>
            <td class="ledger-status">{o.ledgerStatus ?? "-"}</td>
            <td class="why">{whyHeld(o)}</td>
            <td>
              {props.csrf !== null && !settled(o) ? (
                <form method="post" action="/ops/replay">
                  <input type="hidden" name="key" value={o.key} />
                  <input type="hidden" name="csrf" value={props.csrf} />
                  <button type="submit">Replay</button>
                </form>
              ) : null}
            </td>
          </tr>
        ))}
      </Table>
    </section>
  );
}

export function OpsPage(props: {
  data: OpsData;
  csrf: string | null;
  notice?: { text: string; error: boolean } | null;
}) {
  const { data: d, csrf } = props;
  const header = csrf ? <SignOutButtons csrf={csrf} /> : null;
  return (
    <Layout title="Commerce pipeline · ops" header={header}>
      {props.notice ? <p class={`notice${props.notice.error ? " error" : ""}`}>{props.notice.text}</p> : null}
      <p class="muted">
        As of {d.now}. Dead letters: {d.status.deadLetter.objects}
        {d.status.deadLetter.truncated ? "+" : ""}, quarantined: {d.status.quarantine.objects}
        {d.status.quarantine.truncated ? "+" : ""}. D1 size:{" "}
        <span id="d1-size">
          {d.status.d1.bytes === null
            ? "unknown"
            : `${(d.status.d1.bytes / 1e6).toFixed(1)} MB of ${d.status.d1.limitBytes / 1e9} GB`}
        </span>
        .
      </p>
      <section id="person">
        <PersonForm email="" />
      </section>
      <Streams streams={d.streams} />
      {d.status.uninstalledShops.length > 0 ? (
        <section id="uninstalled-shops">
          <h2>Uninstalled shops</h2>
          <Table head={["shop", "since"]} empty="none" rows={d.status.uninstalledShops.length}>
            {d.status.uninstalledShops.map((u) => (
              <tr>
                <td>{u.shop}</td>
                <td>{u.since}</td>
              </tr>
            ))}
          </Table>
        </section>
      ) : null}
      {d.status.privacy.open > 0 ? (
        <section id="privacy-requests">
          <h2>Privacy requests in progress ({d.status.privacy.open})</h2>
          <Table
            head={["received", "request", "kind", "stage", "objects", "rows", "last moved", "deadline", "error"]}
            empty="none"
            rows={d.status.privacy.requests.length}
          >
            {d.status.privacy.requests.map((r) => (
              <tr>
                <td>{r.receivedAt}</td>
                <td>{r.requestId}</td>
                <td>{r.kind}</td>
                <td>{r.stage}</td>
                <td class="num">
                  {r.objectsRewritten + r.objectsDeleted}
                  {r.objectsTotal === null ? "" : ` of ${r.objectsTotal}`}
                </td>
                <td class="num">{r.rowsChanged}</td>
                <td class={r.stalled ? "fail" : ""}>
                  {r.progressedAt ?? "never"}
                  {r.stalled ? " (stalled)" : ""}
                </td>
                <td>{r.deadline}</td>
                <td>{r.error ?? ""}</td>
              </tr>
            ))}
          </Table>
        </section>
      ) : null}
      <Held id="dead-letters" title="Dead letters" held={d.deadLetters} csrf={csrf} />
      <Held id="quarantine" title="Quarantined events" held={d.quarantined} csrf={csrf} />
      <section id="alerts">
        <h2>Open alerts</h2>
        <Table
          head={["last seen", "rule", "severity", "title", "status", "times"]}
          empty="no open alerts"
          rows={d.alerts.length}
        >
          {d.alerts.map((a) => (
            <tr>
              <td>{a.lastSeenAt}</td>
              <td>{a.rule}</td>
              <td class={a.severity === "critical" ? "fail" : a.severity === "warning" ? "warn" : ""}>{a.severity}</td>
              <td>{a.title}</td>
              <td>{a.status}</td>
              <td class="num">{a.occurrences}</td>
            </tr>
          ))}
        </Table>
      </section>
      <section id="data-quality">
        <h2>
          Data quality{" "}
          {d.dq.run ? (
            <span class="muted">
              run {d.dq.run.runId} at {d.dq.run.finishedAt}: {d.dq.run.failCount} fail, {d.dq.run.warnCount} warn,{" "}
              {d.dq.run.passCount} pass
            </span>
          ) : null}
        </h2>
        <Table
          head={["outcome", "check", "subject", "message"]}
          empty="no data-quality run yet"
          rows={d.dq.results.length}
        >
          {d.dq.results.map((r) => (
            <tr>
              <td>
                <span class={`badge ${outcomeClass(r.outcome)}`}>{r.outcome}</span>
              </td>
              <td>{r.checkName}</td>
              <td>{r.subject}</td>
              <td>{r.message}</td>
            </tr>
          ))}
        </Table>
      </section>
      <section id="backfills">
        <h2>Backfills</h2>
        <Table
          head={["requested", "backfill", "shop", "resource", "status", "progress", "rows", "error"]}
          empty="no backfills yet"
          rows={d.backfills.length}
        >
          {d.backfills.map((b) => (
            <tr>
              <td>{b.requestedAt}</td>
              <td>
                <code>{b.backfillId}</code>
              </td>
              <td>{b.shop}</td>
              <td>{b.resource}</td>
              <td class={outcomeClass(b.status)}>{b.status}</td>
              <td class="num">
                {b.linesRead}
                {b.objectCount === null ? "" : ` / ${b.objectCount}`} lines
              </td>
              <td class="num">{b.rowsApplied}</td>
              <td>{b.error ?? ""}</td>
            </tr>
          ))}
        </Table>
      </section>
      <section id="reconcile">
        <h2>Reconciliation runs</h2>
        <Table
          head={["finished", "source", "scope", "status", "looked at", "missing", "stale", "repaired", "error"]}
          empty="no reconciliation run yet"
          rows={d.reconcileRuns.length}
        >
          {d.reconcileRuns.map((r) => (
            <tr>
              <td>{r.finishedAt}</td>
              <td>{r.source}</td>
              <td>{r.scope}</td>
              <td class={outcomeClass(r.status)}>{r.status}</td>
              <td class="num">{r.lookedAt}</td>
              <td class="num">{r.missing}</td>
              <td class="num">{r.stale}</td>
              <td class="num">{r.repaired}</td>
              <td>{r.error ?? ""}</td>
            </tr>
          ))}
        </Table>
      </section>
    </Layout>
  );
}
