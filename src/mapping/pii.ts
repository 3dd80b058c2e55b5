/**
 * The PII policy for the D1 tables: which columns of which table hold personal data, and how a
 * table's rows are tied to a person (its customer-id column, its e-mail column). Erasure sets
 * these columns to NULL and leaves every other column (ids, money, dates, statuses, country and
 * province codes) as it was, so revenue figures do not move. test/privacy-unit.test.ts fails when
 * a source table gains a column that looks personal (e-mail, phone, names, zip, city, notes) and
 * is not listed here.
 */
import type { Source } from "../shared/envelope";

export interface PiiTable {
  table: string;
  source: Source;
  /** Columns set to NULL on erasure. */
  columns: readonly string[];
  /** Keyed by shop (Shopify tables). */
  shop: boolean;
  /** The column naming the customer the row belongs to (the row's own id for customer tables). */
  customer: string | null;
  /** The column holding the row's (normalized) e-mail, for rows without a customer (guest orders). */
  email: string | null;
  /** For child tables without a customer: the parent table and the column pointing at it. */
  parent?: { table: string; column: string };
}

export const PII_TABLES: readonly PiiTable[] = [
  {
    table: "shopify_orders",
    source: "shopify",
    columns: ["email", "phone", "note", "shipping_city", "shipping_zip", "billing_city", "billing_zip"],
    shop: true,
    customer: "customer_id",
    email: "email",
  },
  {
    table: "shopify_refunds",
    source: "shopify",
    columns: ["note"],
    shop: true,
    customer: null,
    email: null,
    parent: { table: "shopify_orders", column: "order_id" },
  },
  {
    table: "shopify_customers",
    source: "shopify",
    columns: ["email", "first_name", "last_name", "phone", "city", "zip"],
    shop: true,
    customer: "id",
    email: "email",
  },
  {
    table: "shopify_checkouts",
    source: "shopify",
    columns: ["email", "phone"],
    shop: true,
    customer: "customer_id",
    email: "email",
  },
  {
    table: "stripe_customers",
    source: "stripe",
    columns: ["email", "name", "phone", "description", "address_postal_code"],
    shop: false,
    customer: "id",
    email: "email",
  },
  {
    table: "stripe_charges",
    source: "stripe",
    columns: ["email", "description"],
    shop: false,
    customer: "customer_id",
    email: "email",
  },
  {
    table: "stripe_payment_intents",
    source: "stripe",
    columns: ["email", "description"],
    shop: false,
    customer: "customer_id",
    email: "email",
  },
  {
    table: "stripe_invoices",
    source: "stripe",
    columns: ["email"],
    shop: false,
    customer: "customer_id",
    email: "email",
  },
  {
    table: "stripe_checkout_sessions",
    source: "stripe",
    columns: ["email", "shipping_name", "shipping_city", "shipping_postal_code"],
    shop: false,
    customer: "customer_id",
    email: "email",
  },
  {
    table: "stripe_subscriptions",
    source: "stripe",
    columns: ["cancellation_comment"],
    shop: false,
    customer: "customer_id",
    email: null,
  },
  {
    table: "recharge_customers",
    source: "recharge",
    columns: ["email", "first_name", "last_name", "phone"],
    shop: false,
    customer: "id",
    email: "email",
  },
  {
    table: "recharge_subscriptions",
    source: "recharge",
    columns: ["email", "cancellation_reason_comments"],
    shop: false,
    customer: "customer_id",
    email: "email",
  },
  {
    table: "recharge_charges",
    source: "recharge",
    columns: ["email"],
    shop: false,
    customer: "customer_id",
    email: "email",
  },
];
