/**
 * Removes personal data from a JSON document as text: every value the PII policy names becomes
 * `null`, and every other byte is copied as it was, so 18-digit ids, number formatting and key
 * order survive and a redacted raw event still maps to the same ids, money and dates. Trade-off:
 * the policy is by key (and any string that looks like an e-mail address), not by meaning, so a
 * name typed into a free-text field the policy does not list stays; the lists below are the
 * PII policy of docs/privacy.md, shared by the consumer (later events about an erased person), the
 * `privacy` job and replay.
 */

/** Keys (snake_case; camelCase keys are compared converted) whose scalar value is always personal data. */
const PII_KEYS = new Set([
  "note",
  "browser_ip",
  "client_ip",
  "ip",
  "ip_address",
  // customers_email_marketing_consent/update names the customer's address so.
  "email_address",
  "user_agent",
  "accept_language",
  "session_hash",
  "full_name",
  "customer_name",
  "shipping_name",
  "billing_name",
  "cancellation_reason_comments",
  "cancellation_comment",
  "comment",
  "comments",
]);

/** Key endings that are personal data wherever they appear (`billing_phone`, `customer_email`, `address1`, …). */
const PII_SUFFIX =
  /(^|_)(email|phone|first_name|last_name|address1|address2|address_line1|address_line2|line1|line2|zip|postal_code|city|company|latitude|longitude)$/;

/** Objects that describe a person or an address: their `name` (and `description`) is personal data too. */
const PERSON_CONTAINERS = new Set([
  "billing_address",
  "shipping_address",
  "default_address",
  "addresses",
  "address",
  "destination",
  "billing_details",
  "shipping",
  "shipping_details",
  "customer_details",
  "customer_shipping",
  "customer_address",
  "customer",
  "recipient",
  "owner",
]);

/** Free-text values of these lists' entries (`note_attributes[].value`) are personal data. */
const FREE_TEXT_LISTS = new Set(["note_attributes"]);

const EMAIL_LIKE = /[^\s@"<>]+@[^\s@"<>]+\.[a-z]{2,}/i;

/** Payloads repeat a few hundred keys over and over: each is normalized once (bounded). */
const normalizedKeys = new Map<string, string>();
const MAX_NORMALIZED_KEYS = 4096;

export function normalizeKey(key: string): string {
  let k = normalizedKeys.get(key);
  if (k === undefined) {
    k = key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
    if (normalizedKeys.size >= MAX_NORMALIZED_KEYS) normalizedKeys.clear();
    normalizedKeys.set(key, k);
  }
  return k;
}

/** Whether the scalar under `key`, inside an object that sits under `parent`, is personal data. */
export function isPiiKey(key: string, parent: string | null, stripeObject = false): boolean {
  const k = normalizeKey(key);
  if (PII_KEYS.has(k) || PII_SUFFIX.test(k)) return true;
  const p = parent === null ? null : normalizeKey(parent);
  if (k === "name" || k === "description") {
    // A Stripe event's `data.object` is the customer or charge itself: its name and description are the person's.
    return (p !== null && PERSON_CONTAINERS.has(p)) || (stripeObject && p === "object");
  }
  return k === "value" && p !== null && FREE_TEXT_LISTS.has(p);
}

export interface RedactOptions {
  /** The document is a Stripe event: `data.object.name` / `.description` are personal data. */
  stripe?: boolean;
}

export interface Redacted {
  text: string;
  /** How many values were replaced. */
  changed: number;
}

class Cursor {
  pos = 0;
  copied = 0;
  readonly out: string[] = [];
  changed = 0;
  constructor(
    readonly text: string,
    readonly stripe: boolean,
  ) {}

  ws(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.pos++;
      else break;
    }
  }

  fail(what: string): never {
    throw new SyntaxError(`invalid JSON at ${this.pos}: ${what}`);
  }

  /** Replaces text[start, pos) with `null`. */
  replace(start: number): void {
    this.out.push(this.text.slice(this.copied, start), "null");
    this.copied = this.pos;
    this.changed++;
  }

  string(): string {
    const start = this.pos;
    if (this.text[this.pos] !== '"') this.fail("expected a string");
    this.pos++;
    const t = this.text;
    let simple = true;
    for (;;) {
      const c = t.charCodeAt(this.pos);
      if (Number.isNaN(c)) this.fail("unterminated string");
      if (c === 34) break;
      if (c === 92) {
        simple = false;
        this.pos += 2;
      } else {
        this.pos++;
      }
    }
    this.pos++;
    return simple ? t.slice(start + 1, this.pos - 1) : (JSON.parse(t.slice(start, this.pos)) as string);
  }

  literal(): "number" | "other" {
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(this.text.slice(this.pos, this.pos + 400));
    if (!m) this.fail("unexpected character");
    this.pos += m[0].length;
    const c = m[0][0];
    return c === "t" || c === "f" || c === "n" ? "other" : "number";
  }

  /** One value; `key` is its member name (or the list's, for list entries), `parent` the name of its container. */
  value(key: string | null, parent: string | null, depth: number): void {
    if (depth > 200) this.fail("nested too deeply");
    this.ws();
    const start = this.pos;
    const c = this.text[this.pos];
    if (c === "{") {
      this.pos++;
      this.ws();
      if (this.text[this.pos] === "}") {
        this.pos++;
        return;
      }
      for (;;) {
        this.ws();
        const member = this.string();
        this.ws();
        if (this.text[this.pos] !== ":") this.fail("expected ':'");
        this.pos++;
        this.value(member, key, depth + 1);
        this.ws();
        const sep = this.text[this.pos++];
        if (sep === "}") return;
        if (sep !== ",") this.fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      this.pos++;
      this.ws();
      if (this.text[this.pos] === "]") {
        this.pos++;
        return;
      }
      for (;;) {
        // A list's entries are judged by the list's name, in the list's container.
        this.value(key, parent, depth + 1);
        this.ws();
        const sep = this.text[this.pos++];
        if (sep === "]") return;
        if (sep !== ",") this.fail("expected ',' or ']'");
      }
    }
    if (c === '"') {
      const s = this.string();
      if ((key !== null && isPiiKey(key, parent, this.stripe)) || EMAIL_LIKE.test(s)) this.replace(start);
      return;
    }
    const kind = this.literal();
    if (kind === "number" && key !== null && isPiiKey(key, parent, this.stripe)) this.replace(start);
  }
}

/** The document with every personal value set to null; throws SyntaxError when `text` is not JSON. */
export function redactJson(text: string, options: RedactOptions = {}): Redacted {
  const cur = new Cursor(text, options.stripe ?? false);
  cur.value(null, null, 0);
  cur.ws();
  if (cur.pos !== text.length) cur.fail("trailing characters");
  if (cur.changed === 0) return { text, changed: 0 };
  cur.out.push(text.slice(cur.copied));
  return { text: cur.out.join(""), changed: cur.changed };
}
