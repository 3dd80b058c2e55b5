/**
 * The `/ops` dashboard, server-rendered from `OpsData`. What needs attention comes first: the
 * summary tiles (freshness, dead letters, quarantine, alerts), the sources, then what is held
 * back. Values from outside (topics, shops, error text, keys) are escaped by the JSX renderer.
 * No token is ever part of `OpsData`.
 */
import type { OpsData } from "../ops-data";
import { Held } from "./held";
import { Layout } from "./layout";
import { PersonForm } from "./people";
import { SignOutButtons } from "./sign-in";
import { Streams } from "./streams";
import { Summary } from "./summary";
import { Table, Td } from "./table";
import { utc, When } from "./time";

const outcomeClass = (o: string) =>
  o === "FAIL" || o === "failed" || o === "error" ? "fail" : o === "WARN" || o === "partial" ? "warn" : "ok";

function Privacy(props: { d: OpsData }) {
  const { d } = props;
  if (d.status.privacy.open === 0) return null;
  return (
    <section id="privacy-requests">
      <h2>Privacy requests in progress ({d.status.privacy.open})</h2>
      <Table
        head={["received", "request", "kind", "stage", "objects", "rows", "last moved", "deadline", "error"]}
        empty="none"
        rows={d.status.privacy.requests.length}
      >
        {d.status.privacy.requests.map((r) => (
          <tr>
            <Td l="received" class="nowrap">
              <When at={r.receivedAt} now={d.now} />
            </Td>
            <Td l="request" class="wrap">
              <code>{r.requestId}</code>
            </Td>
            <Td l="kind">{r.kind}</Td>
            <Td l="stage">{r.stage}</Td>
            <Td l="objects" class="num">
              {String(r.objectsRewritten + r.objectsDeleted)}
              {r.objectsTotal === null ? "" : ` of ${r.objectsTotal}`}
            </Td>
            <Td l="rows" class="num">
              {String(r.rowsChanged)}
            </Td>
            <Td l="last moved" class={`nowrap${r.stalled ? " fail" : ""}`}>
              <When at={r.progressedAt} now={d.now} />
              {r.stalled ? " (stalled)" : ""}
            </Td>
            <Td l="deadline" class="nowrap">
              <When at={r.deadline} now={d.now} />
            </Td>
            <Td l="error" class="wrap">
              {r.error ?? ""}
            </Td>
          </tr>
        ))}
      </Table>
    </section>
  );
}

function Alerts(props: { d: OpsData }) {
  const { d } = props;
  return (
    <section id="alerts">
      <h2>Open alerts</h2>
      <Table
        head={["last seen", "rule", "severity", "title", "status", "times"]}
        empty="no open alerts"
        rows={d.alerts.length}
      >
        {d.alerts.map((a) => (
          <tr>
            <Td l="last seen" class="nowrap">
              <When at={a.lastSeenAt} now={d.now} />
            </Td>
            <Td l="rule">{a.rule}</Td>
            <Td l="severity" class={a.severity === "critical" ? "fail" : a.severity === "warning" ? "warn" : ""}>
              {a.severity}
            </Td>
            <Td l="title" class="wrap">
              {a.title}
            </Td>
            <Td l="status">{a.status}</Td>
            <Td l="times" class="num">
              {String(a.occurrences)}
            </Td>
          </tr>
        ))}
      </Table>
    </section>
  );
}

function DataQuality(props: { d: OpsData }) {
  const { d } = props;
  return (
    <section id="data-quality">
      <h2>
        Data quality{" "}
        {d.dq.run ? (
          <span class="muted">
            run <When at={d.dq.run.finishedAt} now={d.now} />: {d.dq.run.failCount} fail, {d.dq.run.warnCount} warn,{" "}
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
            <Td l="outcome">
              <span class={`badge ${outcomeClass(r.outcome)}`}>{r.outcome}</span>
            </Td>
            <Td l="check">{r.checkName}</Td>
            <Td l="subject" class="wrap">
              {r.subject}
            </Td>
            <Td l="message" class="wrap">
              {r.message}
            </Td>
          </tr>
        ))}
      </Table>
    </section>
  );
}

function Backfills(props: { d: OpsData }) {
  const { d } = props;
  return (
    <section id="backfills">
      <h2>Backfills</h2>
      <Table
        head={["requested", "backfill", "shop", "resource", "status", "progress", "rows", "error"]}
        empty="no backfills yet"
        rows={d.backfills.length}
      >
        {d.backfills.map((b) => (
          <tr>
            <Td l="requested" class="nowrap">
              <When at={b.requestedAt} now={d.now} />
            </Td>
            <Td l="backfill" class="wrap">
              <code>{b.backfillId}</code>
            </Td>
            <Td l="shop" class="wrap">
              {b.shop}
            </Td>
            <Td l="resource">{b.resource}</Td>
            <Td l="status" class={outcomeClass(b.status)}>
              {b.status}
            </Td>
            <Td l="progress" class="num">
              {String(b.linesRead)}
              {b.objectCount === null ? "" : ` / ${b.objectCount}`} lines
            </Td>
            <Td l="rows" class="num">
              {String(b.rowsApplied)}
            </Td>
            <Td l="error" class="wrap">
              {b.error ?? ""}
            </Td>
          </tr>
        ))}
      </Table>
    </section>
  );
}

/** Stripe and Recharge history backfills; a note says what the source did not let one load. */
function ApiBackfills(props: { d: OpsData }) {
  const { d } = props;
  return (
    <section id="api-backfills">
      <h2>Stripe and Recharge backfills</h2>
      <Table
        head={[
          "requested",
          "backfill",
          "source",
          "resource",
          "status",
          "since",
          "listed",
          "sent",
          "error",
          "not loaded",
        ]}
        empty="no Stripe or Recharge backfill yet"
        rows={d.apiBackfills.length}
      >
        {d.apiBackfills.map((b) => (
          <tr>
            <Td l="requested" class="nowrap">
              <When at={b.requestedAt} now={d.now} />
            </Td>
            <Td l="backfill" class="wrap">
              <code>{b.backfillId}</code>
            </Td>
            <Td l="source">{b.source}</Td>
            <Td l="resource">{b.resource}</Td>
            <Td l="status" class={outcomeClass(b.status)}>
              {b.status}
            </Td>
            <Td l="since" class="nowrap">
              {b.since ?? "all history"}
            </Td>
            <Td l="listed" class="num">
              {String(b.listed)}
            </Td>
            <Td l="sent" class="num">
              {String(b.sent)}
            </Td>
            <Td l="error" class="wrap">
              {b.error ?? ""}
            </Td>
            <Td l="not loaded" class={b.note === null ? "wrap" : "wrap warn"}>
              {b.note ?? ""}
            </Td>
          </tr>
        ))}
      </Table>
    </section>
  );
}

/** A lag in seconds as minutes, hours or days. */
function lag(seconds: number | null): string {
  if (seconds === null) return "";
  if (seconds >= 86_400) return `${(seconds / 86_400).toFixed(1)} d`;
  if (seconds >= 3_600) return `${(seconds / 3_600).toFixed(1)} h`;
  return `${Math.round(seconds / 60)} min`;
}

function Reconcile(props: { d: OpsData }) {
  const { d } = props;
  return (
    <section id="reconcile">
      <h2>Reconciliation lag</h2>
      <Table
        head={["source", "scope", "behind by", "oldest change not reconciled", "unfinished", "last served"]}
        empty="no reconciliation cursor yet"
        rows={d.status.reconcile.length}
      >
        {d.status.reconcile.map((r) => (
          <tr>
            <Td l="source">{r.source}</Td>
            <Td l="scope" class="wrap">
              {r.scope}
            </Td>
            <Td l="behind by" class={r.unfinished.length > 0 ? "warn num" : "num"}>
              {lag(r.lagSeconds)}
            </Td>
            <Td l="oldest change not reconciled" class="nowrap">
              {r.position ?? ""}
            </Td>
            <Td l="unfinished" class="wrap">
              {r.unfinished.join(", ")}
            </Td>
            <Td l="last served" class="nowrap">
              {r.servedAt === "" ? "" : <When at={r.servedAt} now={d.now} />}
            </Td>
          </tr>
        ))}
      </Table>
      <h2>Reconciliation runs</h2>
      <Table
        head={[
          "finished",
          "source",
          "scope",
          "status",
          "looked at",
          "missing",
          "stale",
          "repaired",
          "pages",
          "stopped by",
          "behind by",
          "error",
        ]}
        empty="no reconciliation run yet"
        rows={d.reconcileRuns.length}
      >
        {d.reconcileRuns.map((r) => (
          <tr>
            <Td l="finished" class="nowrap">
              <When at={r.finishedAt} now={d.now} />
            </Td>
            <Td l="source">{r.source}</Td>
            <Td l="scope" class="wrap">
              {r.scope}
            </Td>
            <Td l="status" class={outcomeClass(r.status)}>
              {r.status}
            </Td>
            <Td l="looked at" class="num">
              {String(r.lookedAt)}
            </Td>
            <Td l="missing" class="num">
              {String(r.missing)}
            </Td>
            <Td l="stale" class="num">
              {String(r.stale)}
            </Td>
            <Td l="repaired" class="num">
              {String(r.repaired)}
            </Td>
            <Td l="pages" class="num">
              {String(r.pages)}
            </Td>
            <Td l="stopped by">{r.stoppedBy ?? ""}</Td>
            <Td l="behind by" class="num">
              {lag(r.lagSeconds)}
            </Td>
            <Td l="error" class="wrap">
              {r.error ?? ""}
            </Td>
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
      <Summary d={d} />
      <p class="muted small as-of">
        As of <time datetime={d.now}>{utc(d.now)}</time>. Times are shown as how long ago; hover one for its UTC time.
      </p>
      <Streams streams={d.streams} now={d.now} />
      <Held id="dead-letters" title="Dead letters" held={d.deadLetters} csrf={csrf} now={d.now} />
      <Held id="quarantine" title="Quarantined events" held={d.quarantined} csrf={csrf} now={d.now} />
      <Alerts d={d} />
      {d.status.uninstalledShops.length > 0 ? (
        <section id="uninstalled-shops">
          <h2>Uninstalled shops</h2>
          <Table head={["shop", "since"]} empty="none" rows={d.status.uninstalledShops.length}>
            {d.status.uninstalledShops.map((u) => (
              <tr>
                <Td l="shop" class="wrap">
                  {u.shop}
                </Td>
                <Td l="since" class="nowrap">
                  <When at={u.since} now={d.now} />
                </Td>
              </tr>
            ))}
          </Table>
        </section>
      ) : null}
      <Privacy d={d} />
      <DataQuality d={d} />
      <Backfills d={d} />
      <ApiBackfills d={d} />
      <Reconcile d={d} />
      <section id="person">
        <PersonForm email="" />
      </section>
    </Layout>
  );
}
