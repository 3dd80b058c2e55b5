/**
 * The Slack-compatible message for an alert: `text` (what notifications and clients
 * without attachment support show) plus one attachment with a colour by severity and
 * the alert's fields as `fields[]` (title/value/short). Incoming webhooks of Slack,
 * Mattermost, Rocket.Chat and Discord's `/slack` endpoint all read this shape.
 */
import { z } from "zod";
import type { AlertSeverity } from "../../shared/schema/cron";

const COLORS: Record<AlertSeverity, string> = { critical: "#d1242f", warning: "#d4a72c", info: "#0969da" };

const fieldsSchema = z.array(z.object({ name: z.string(), value: z.string() }));

export interface AlertForMessage {
  rule: string;
  alertKey: string;
  severity: AlertSeverity;
  title: string;
  /** JSON array of `{name, value}` as stored in `alerts.fields`. */
  fields: string;
  createdAt: string;
  occurrences: number;
}

export interface SlackMessage {
  text: string;
  attachments: Array<{
    color: string;
    fallback: string;
    fields: Array<{ title: string; value: string; short: boolean }>;
    footer: string;
    ts: number;
  }>;
}

export function slackMessage(a: AlertForMessage): SlackMessage {
  let fields: z.infer<typeof fieldsSchema> = [];
  try {
    const parsed = fieldsSchema.safeParse(JSON.parse(a.fields));
    if (parsed.success) fields = parsed.data;
  } catch {
    // A row with unreadable fields still gets its title out.
  }
  const repeat = a.occurrences > 1 ? ` (seen ${a.occurrences} times)` : "";
  const text = `[${a.severity.toUpperCase()}] ${a.title}${repeat}`;
  return {
    text,
    attachments: [
      {
        color: COLORS[a.severity],
        fallback: text,
        fields: fields.map((f) => ({ title: f.name, value: f.value, short: f.value.length <= 40 })),
        footer: `commerce-edge-pipeline · ${a.rule} · ${a.alertKey}`,
        ts: Math.floor(Date.parse(a.createdAt) / 1000),
      },
    ],
  };
}
