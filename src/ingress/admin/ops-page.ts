/** `GET /ops`: the status as a plain HTML page. Every value is escaped: sources and topics come from outside. */
import type { PipelineStatus } from "./status";

const esc = (v: unknown) => String(v).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function table(head: string[], rows: unknown[][]): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join("");
  const tr = rows.map((r) => `<tr>${r.map((v) => `<td>${esc(v)}</td>`).join("")}</tr>`).join("");
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr || `<tr><td colspan="${head.length}">none yet</td></tr>`}</tbody></table>`;
}

const count = (c: { objects: number; truncated: boolean }) => `${c.objects}${c.truncated ? "+" : ""}`;

export function opsPage(s: PipelineStatus, now: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Commerce pipeline · ops</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:0 0 1.5rem}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}th{background:#f4f4f4}</style></head>
<body><h1>Commerce pipeline</h1><p>As of ${esc(now)}</p>
<h2>Ledger</h2>${table(
    ["source", "status", "events"],
    s.ledger.map((r) => [r.source, r.status, r.count]),
  )}
<h2>Last events</h2>${table(
    ["source", "last received", "last event time"],
    s.lastEvents.map((r) => [r.source, r.lastReceivedAt, r.lastEventAt]),
  )}
<h2>Held back</h2>${table(
    ["area", "objects"],
    [
      ["quarantine/", count(s.quarantine)],
      ["dead-letter/", count(s.deadLetter)],
      [
        "D1 size",
        s.d1.bytes === null ? "unknown" : `${(s.d1.bytes / 1e6).toFixed(1)} MB of ${s.d1.limitBytes / 1e9} GB`,
      ],
    ],
  )}
<h2>Uninstalled shops</h2>${table(
    ["shop", "since"],
    s.uninstalledShops.map((r) => [r.shop, r.since]),
  )}
</body></html>`;
}
