/**
 * Drizzle definitions of the `stripe_*` tables; they must match
 * migrations/0003_stripe_recharge.sql and migrations/0152_stripe_recharge_versions.sql exactly (a test compares them with
 * `PRAGMA table_info`). The SQL file stays the source of truth for the database,
 * these give typed rows and statements; keeping two copies is the price of
 * applying plain SQL migrations with wrangler.
 */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

const bool = (name: string) => integer(name, { mode: "boolean" });

/**
 * Columns every Stripe entity row ends with: `event_created` is the ordering key (unix seconds);
 * `api_version` the Stripe API version of the payload that wrote the row (migrations/0152; NULL when
 * the event named none).
 */
const tail = () => ({
  createdAt: text("created_at"),
  eventCreated: integer("event_created").notNull(),
  updatedAt: text("updated_at").notNull(),
  deletedAt: text("deleted_at"),
  lastEventId: text("last_event_id").notNull(),
  apiVersion: text("api_version"),
});

export const stripeCustomers = sqliteTable(
  "stripe_customers",
  {
    id: text("id").primaryKey().notNull(),
    email: text("email"),
    name: text("name"),
    phone: text("phone"),
    description: text("description"),
    currency: text("currency"),
    balanceMinor: integer("balance_minor"),
    delinquent: bool("delinquent"),
    addressCountry: text("address_country"),
    addressPostalCode: text("address_postal_code"),
    metadata: text("metadata"),
    livemode: bool("livemode"),
    ...tail(),
  },
  (t) => [index("stripe_customers_by_email").on(t.email), index("stripe_customers_by_lake_day").on(t.updatedAt, t.id)],
);

export const stripeCharges = sqliteTable(
  "stripe_charges",
  {
    id: text("id").primaryKey().notNull(),
    customerId: text("customer_id"),
    paymentIntentId: text("payment_intent_id"),
    invoiceId: text("invoice_id"),
    email: text("email"),
    amountMinor: integer("amount_minor").notNull(),
    amountCapturedMinor: integer("amount_captured_minor"),
    amountRefundedMinor: integer("amount_refunded_minor"),
    currency: text("currency").notNull(),
    status: text("status"),
    paid: bool("paid"),
    captured: bool("captured"),
    refunded: bool("refunded"),
    disputed: bool("disputed"),
    failureCode: text("failure_code"),
    failureMessage: text("failure_message"),
    outcomeType: text("outcome_type"),
    paymentMethodId: text("payment_method_id"),
    paymentMethodType: text("payment_method_type"),
    cardBrand: text("card_brand"),
    description: text("description"),
    metadataOrderId: text("metadata_order_id"),
    metadataCustomerId: text("metadata_customer_id"),
    metadata: text("metadata"),
    livemode: bool("livemode"),
    ...tail(),
  },
  (t) => [
    index("stripe_charges_by_customer").on(t.customerId),
    index("stripe_charges_by_email").on(t.email),
    index("stripe_charges_by_payment_intent").on(t.paymentIntentId),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("stripe_charges_by_lake_day").on(t.updatedAt, t.id),
  ],
);

export const stripePaymentIntents = sqliteTable(
  "stripe_payment_intents",
  {
    id: text("id").primaryKey().notNull(),
    customerId: text("customer_id"),
    email: text("email"),
    amountMinor: integer("amount_minor").notNull(),
    amountReceivedMinor: integer("amount_received_minor"),
    amountCapturableMinor: integer("amount_capturable_minor"),
    currency: text("currency").notNull(),
    status: text("status"),
    captureMethod: text("capture_method"),
    latestChargeId: text("latest_charge_id"),
    paymentMethodId: text("payment_method_id"),
    invoiceId: text("invoice_id"),
    description: text("description"),
    cancellationReason: text("cancellation_reason"),
    canceledAt: text("canceled_at"),
    lastErrorCode: text("last_error_code"),
    lastErrorMessage: text("last_error_message"),
    metadataOrderId: text("metadata_order_id"),
    metadataCustomerId: text("metadata_customer_id"),
    metadata: text("metadata"),
    livemode: bool("livemode"),
    ...tail(),
  },
  (t) => [
    index("stripe_payment_intents_by_customer").on(t.customerId),
    index("stripe_payment_intents_by_email").on(t.email),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("stripe_payment_intents_by_lake_day").on(t.updatedAt, t.id),
  ],
);

export const stripeInvoices = sqliteTable(
  "stripe_invoices",
  {
    id: text("id").primaryKey().notNull(),
    number: text("number"),
    customerId: text("customer_id"),
    email: text("email"),
    subscriptionId: text("subscription_id"),
    paymentIntentId: text("payment_intent_id"),
    chargeId: text("charge_id"),
    status: text("status"),
    billingReason: text("billing_reason"),
    collectionMethod: text("collection_method"),
    currency: text("currency").notNull(),
    amountDueMinor: integer("amount_due_minor"),
    amountPaidMinor: integer("amount_paid_minor"),
    amountRemainingMinor: integer("amount_remaining_minor"),
    subtotalMinor: integer("subtotal_minor"),
    totalMinor: integer("total_minor"),
    taxMinor: integer("tax_minor"),
    attemptCount: integer("attempt_count"),
    attempted: bool("attempted"),
    nextPaymentAttemptAt: text("next_payment_attempt_at"),
    dueAt: text("due_at"),
    periodStart: text("period_start"),
    periodEnd: text("period_end"),
    paidAt: text("paid_at"),
    metadata: text("metadata"),
    livemode: bool("livemode"),
    ...tail(),
  },
  (t) => [
    index("stripe_invoices_by_customer").on(t.customerId),
    index("stripe_invoices_by_email").on(t.email),
    index("stripe_invoices_by_status").on(t.status, t.createdAt),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("stripe_invoices_by_lake_day").on(t.updatedAt, t.id),
  ],
);

export const stripeDisputes = sqliteTable(
  "stripe_disputes",
  {
    id: text("id").primaryKey().notNull(),
    chargeId: text("charge_id"),
    paymentIntentId: text("payment_intent_id"),
    amountMinor: integer("amount_minor").notNull(),
    currency: text("currency").notNull(),
    reason: text("reason"),
    status: text("status"),
    isChargeRefundable: bool("is_charge_refundable"),
    evidenceDueBy: text("evidence_due_by"),
    networkReasonCode: text("network_reason_code"),
    metadata: text("metadata"),
    livemode: bool("livemode"),
    ...tail(),
  },
  (t) => [
    index("stripe_disputes_by_charge").on(t.chargeId),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("stripe_disputes_by_lake_day").on(t.updatedAt, t.id),
  ],
);

export const stripeRefunds = sqliteTable(
  "stripe_refunds",
  {
    id: text("id").primaryKey().notNull(),
    chargeId: text("charge_id"),
    paymentIntentId: text("payment_intent_id"),
    amountMinor: integer("amount_minor").notNull(),
    currency: text("currency").notNull(),
    status: text("status"),
    reason: text("reason"),
    failureReason: text("failure_reason"),
    metadata: text("metadata"),
    ...tail(),
  },
  (t) => [
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("stripe_refunds_by_lake_day").on(t.updatedAt, t.id),
  ],
);

export const stripeSubscriptions = sqliteTable(
  "stripe_subscriptions",
  {
    id: text("id").primaryKey().notNull(),
    customerId: text("customer_id"),
    status: text("status"),
    currency: text("currency"),
    collectionMethod: text("collection_method"),
    cancelAtPeriodEnd: bool("cancel_at_period_end"),
    cancelAt: text("cancel_at"),
    canceledAt: text("canceled_at"),
    endedAt: text("ended_at"),
    cancellationReason: text("cancellation_reason"),
    cancellationFeedback: text("cancellation_feedback"),
    cancellationComment: text("cancellation_comment"),
    startDate: text("start_date"),
    trialStart: text("trial_start"),
    trialEnd: text("trial_end"),
    currentPeriodStart: text("current_period_start"),
    currentPeriodEnd: text("current_period_end"),
    latestInvoiceId: text("latest_invoice_id"),
    defaultPaymentMethodId: text("default_payment_method_id"),
    itemCount: integer("item_count"),
    priceId: text("price_id"),
    productId: text("product_id"),
    quantity: integer("quantity"),
    unitAmountMinor: integer("unit_amount_minor"),
    priceInterval: text("price_interval"),
    priceIntervalCount: integer("price_interval_count"),
    metadata: text("metadata"),
    livemode: bool("livemode"),
    ...tail(),
    /** Every item's amount normalized to a month and summed (migrations/0152); NULL when not known. */
    mrrMinor: integer("mrr_minor"),
  },
  (t) => [
    index("stripe_subscriptions_by_customer").on(t.customerId),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("stripe_subscriptions_by_lake_day").on(t.updatedAt, t.id),
  ],
);

/**
 * Since API 2025-03-31 (basil) an invoice names its payments only through these objects
 * (`invoice_payment.*` events, `GET /v1/invoice_payments`); migrations/0152 copies a paid one's
 * payment intent and charge onto `stripe_invoices` and its invoice onto `stripe_charges` and
 * `stripe_payment_intents`, whichever of them arrives first.
 */
export const stripeInvoicePayments = sqliteTable(
  "stripe_invoice_payments",
  {
    id: text("id").primaryKey().notNull(),
    invoiceId: text("invoice_id"),
    paymentType: text("payment_type"),
    paymentIntentId: text("payment_intent_id"),
    chargeId: text("charge_id"),
    status: text("status"),
    isDefault: bool("is_default"),
    amountPaidMinor: integer("amount_paid_minor"),
    amountRequestedMinor: integer("amount_requested_minor"),
    currency: text("currency").notNull(),
    paidAt: text("paid_at"),
    canceledAt: text("canceled_at"),
    livemode: bool("livemode"),
    ...tail(),
  },
  (t) => [
    index("stripe_invoice_payments_by_invoice").on(t.invoiceId),
    index("stripe_invoice_payments_by_payment_intent").on(t.paymentIntentId),
    index("stripe_invoice_payments_by_charge").on(t.chargeId),
    index("stripe_invoice_payments_by_lake_day").on(t.updatedAt, t.id),
  ],
);

export const stripeCheckoutSessions = sqliteTable(
  "stripe_checkout_sessions",
  {
    id: text("id").primaryKey().notNull(),
    mode: text("mode"),
    status: text("status"),
    paymentStatus: text("payment_status"),
    customerId: text("customer_id"),
    email: text("email"),
    userId: text("user_id"),
    clientReferenceId: text("client_reference_id"),
    currency: text("currency"),
    amountSubtotalMinor: integer("amount_subtotal_minor"),
    amountTotalMinor: integer("amount_total_minor"),
    amountDiscountMinor: integer("amount_discount_minor"),
    amountTaxMinor: integer("amount_tax_minor"),
    amountShippingMinor: integer("amount_shipping_minor"),
    paymentIntentId: text("payment_intent_id"),
    subscriptionId: text("subscription_id"),
    invoiceId: text("invoice_id"),
    shippingName: text("shipping_name"),
    shippingLine1: text("shipping_line1"),
    shippingLine2: text("shipping_line2"),
    shippingCity: text("shipping_city"),
    shippingState: text("shipping_state"),
    shippingPostalCode: text("shipping_postal_code"),
    shippingCountry: text("shipping_country"),
    expiresAt: text("expires_at"),
    metadata: text("metadata"),
    livemode: bool("livemode"),
    ...tail(),
  },
  (t) => [
    index("stripe_checkout_sessions_by_email").on(t.email),
    index("stripe_checkout_sessions_by_customer").on(t.customerId),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("stripe_checkout_sessions_by_lake_day").on(t.updatedAt, t.id),
  ],
);

export const stripeCheckoutSessionLineItems = sqliteTable(
  "stripe_checkout_session_line_items",
  {
    sessionId: text("session_id").notNull(),
    position: integer("position").notNull(),
    id: text("id"),
    priceId: text("price_id"),
    productId: text("product_id"),
    description: text("description"),
    quantity: integer("quantity"),
    currency: text("currency"),
    unitAmountMinor: integer("unit_amount_minor"),
    amountSubtotalMinor: integer("amount_subtotal_minor"),
    amountDiscountMinor: integer("amount_discount_minor"),
    amountTaxMinor: integer("amount_tax_minor"),
    amountTotalMinor: integer("amount_total_minor"),
    updatedAt: text("updated_at").notNull(),
    lastEventId: text("last_event_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.sessionId, t.position] }),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("stripe_checkout_session_line_items_by_lake_day").on(t.updatedAt, t.sessionId, t.position),
  ],
);

/** Complete rows (every column named, nulls explicit), so a mapper cannot silently skip a column. */
export type StripeCustomerRow = typeof stripeCustomers.$inferSelect;
export type StripeChargeRow = typeof stripeCharges.$inferSelect;
export type StripePaymentIntentRow = typeof stripePaymentIntents.$inferSelect;
export type StripeInvoiceRow = typeof stripeInvoices.$inferSelect;
export type StripeDisputeRow = typeof stripeDisputes.$inferSelect;
export type StripeRefundRow = typeof stripeRefunds.$inferSelect;
export type StripeSubscriptionRow = typeof stripeSubscriptions.$inferSelect;
export type StripeInvoicePaymentRow = typeof stripeInvoicePayments.$inferSelect;
export type StripeCheckoutSessionRow = typeof stripeCheckoutSessions.$inferSelect;
export type StripeCheckoutLineItemRow = typeof stripeCheckoutSessionLineItems.$inferSelect;

/** Every Stripe table, for the schema-vs-migration test. */
export const STRIPE_TABLES = [
  stripeCustomers,
  stripeCharges,
  stripePaymentIntents,
  stripeInvoices,
  stripeDisputes,
  stripeRefunds,
  stripeSubscriptions,
  stripeCheckoutSessions,
  stripeCheckoutSessionLineItems,
  stripeInvoicePayments,
] as const;
