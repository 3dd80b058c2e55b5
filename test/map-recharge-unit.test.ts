import { describe, expect, it } from "vitest";
import { mapRechargeEvent, type RechargeMapping, rechargeTime } from "../src/mapping/recharge";
import charge from "./fixtures/recharge/charge.json";
import customer from "./fixtures/recharge/customer.json";
import order from "./fixtures/recharge/order.json";
import subscription from "./fixtures/recharge/subscription.json";

function rowsOf(topic: string, body: object | string) {
  const result = mapRechargeEvent(topic, typeof body === "string" ? body : JSON.stringify(body), "rc_unit");
  if (!result.ok) throw new Error(result.detail);
  if (result.value.kind !== "rows") throw new Error(`skipped: ${result.value.note}`);
  return result.value.rows;
}
const outcome = (topic: string, body: string): RechargeMapping | string => {
  const m = mapRechargeEvent(topic, body, "rc_unit");
  return m.ok ? m.value : `invalid: ${m.detail}`;
};
const sub = subscription.subscription;

describe("Recharge mapper", () => {
  it("takes the store's currency only when the payload names none", () => {
    const map = (body: object, store: string | null) => {
      const r = mapRechargeEvent("subscription/created", JSON.stringify(body), "rc_unit", store);
      if (!r.ok || r.value.kind !== "rows" || r.value.rows.table !== "subscriptions") throw new Error("not a row");
      return [r.value.rows.row.currency, r.value.rows.row.priceMinor];
    };
    expect(map(subscription, "JPY")).toEqual(["JPY", 49]);
    expect(map(subscription, "usd")).toEqual(["USD", 4900]);
    expect(map({ subscription: { ...sub, presentment_currency: "EUR" } }, "USD")).toEqual(["EUR", 4900]);
    expect(map({ subscription: { ...sub, presentment_currency: "", currency: "GBP" } }, "USD")).toEqual(["GBP", 4900]);
    const paid = mapRechargeEvent(
      "charge/paid",
      JSON.stringify({ charge: { ...charge.charge, currency: null } }),
      "rc_unit",
      "KWD",
    );
    if (!paid.ok || paid.value.kind !== "rows" || paid.value.rows.table !== "charges") throw new Error("not a charge");
    expect(paid.value.rows.row.currency).toBe("KWD");
  });

  it("maps the subscription fixture; without a currency the price stays decimal text", () => {
    expect(rowsOf("subscription/created", subscription)).toEqual({
      table: "subscriptions",
      row: {
        id: "1111111",
        customerId: "33333333",
        shopifyCustomerId: null,
        email: null,
        addressId: "2222222",
        status: "active",
        productTitle: "Test product",
        variantTitle: "972-1",
        shopifyProductId: "123123",
        shopifyVariantId: "23123123123",
        sku: null,
        currency: null,
        priceMinor: null,
        priceDecimal: "49.00",
        quantity: 1,
        orderIntervalUnit: "day",
        orderIntervalFrequency: 30,
        chargeIntervalFrequency: 30,
        orderDayOfMonth: null,
        orderDayOfWeek: null,
        expireAfterSpecificNumberOfCharges: null,
        nextChargeScheduledAt: "2022-04-09T00:00:00.000Z",
        isPrepaid: false,
        isSkippable: true,
        isSwappable: false,
        maxRetriesReached: false,
        cancelledAt: null,
        cancellationReason: null,
        cancellationReasonComments: null,
        createdAt: "2022-03-10T12:13:28.000Z",
        updatedAt: "2022-03-10T12:13:28.000Z",
        deletedAt: null,
        lastEventId: "rc_unit",
      },
    });
  });

  it("converts prices with the currency's exponent: USD 2, JPY 0, KWD 3", () => {
    const price = (currency: string, value: string) =>
      rowsOf("subscription/updated", { subscription: { ...sub, presentment_currency: currency, price: value } }).row;
    expect(price("USD", "49.00")).toMatchObject({ currency: "USD", priceMinor: 4900, priceDecimal: "49.00" });
    expect(price("jpy", "1500")).toMatchObject({ currency: "JPY", priceMinor: 1500 });
    expect(price("JPY", "1500.00")).toMatchObject({ priceMinor: 1500 });
    expect(price("KWD", "12.345")).toMatchObject({ currency: "KWD", priceMinor: 12345 });
    // A JSON number (where the API documents a string) is read from its source text, not a float.
    const text = JSON.stringify({ subscription: { ...sub, presentment_currency: "USD" } }).replace(
      '"price":"49.00"',
      '"price":19.99',
    );
    expect(rowsOf("subscription/updated", text).row).toMatchObject({ priceMinor: 1999, priceDecimal: "19.99" });
  });

  it("maps a cancellation and a delete", () => {
    const cancelled = rowsOf("subscription/cancelled", {
      subscription: {
        ...sub,
        status: "cancelled",
        cancelled_at: "2022-03-12T09:00:00-05:00",
        cancellation_reason: "Too expensive",
        cancellation_reason_comments: "  ",
        updated_at: "2022-03-12T09:00:01-05:00",
      },
    }).row;
    expect(cancelled).toMatchObject({
      status: "cancelled",
      cancelledAt: "2022-03-12T14:00:00.000Z",
      cancellationReason: "Too expensive",
      updatedAt: "2022-03-12T14:00:01.000Z",
      deletedAt: null,
    });
    expect(rowsOf("subscription/deleted", subscription).row).toMatchObject({
      deletedAt: "2022-03-10T12:13:28.000Z",
      updatedAt: "2022-03-10T12:13:28.000Z",
    });
  });

  it("maps the charge fixture with totals, shipping, Shopify ids and line items", () => {
    const rows = rowsOf("charge/paid", charge);
    expect(rows).toEqual({
      table: "charges",
      row: {
        id: "580825303",
        customerId: "64962974",
        shopifyCustomerId: "5213433266347",
        email: "kozakevich_k@example.com",
        addressId: "69282975",
        status: "success",
        type: "recurring",
        currency: "USD",
        subtotalMinor: 2430,
        totalPriceMinor: 2920,
        totalTaxMinor: 0,
        totalDiscountsMinor: 0,
        totalRefundsMinor: 0,
        totalLineItemsPriceMinor: 2430,
        totalDutiesMinor: 0,
        totalShippingMinor: 490,
        lineItemCount: 1,
        scheduledAt: "2023-05-13T00:00:00.000Z",
        processedAt: "2023-05-13T04:07:33.000Z",
        retryDate: null,
        chargeAttempts: null,
        error: null,
        errorType: null,
        shopifyOrderId: "5006149877931",
        paymentProcessor: "shopify_payments",
        externalTransactionId: "43114102955",
        tags: "Subscription, Subscription Recurring Order",
        createdAt: "2022-05-13T04:07:39.000Z",
        updatedAt: "2023-05-13T04:16:51.000Z",
        deletedAt: null,
        lastEventId: "rc_unit",
      },
      lineItems: [
        {
          chargeId: "580825303",
          position: 0,
          purchaseItemId: "153601366",
          purchaseItemType: "subscription",
          shopifyProductId: "6642695864491",
          shopifyVariantId: "39684723835051",
          sku: "T3",
          title: "Airbit Box Corner Short sleeve t-shirt",
          variantTitle: "L / City Green",
          quantity: 1,
          currency: "USD",
          unitPriceMinor: 2430,
          totalPriceMinor: 2430,
          taxDueMinor: 0,
          updatedAt: "2023-05-13T04:16:51.000Z",
          lastEventId: "rc_unit",
        },
      ],
    });
  });

  it("maps a failed charge in the 2021-01 shape, keeping an 18-digit Shopify id exact", () => {
    const legacy = `{"charge": {"id": 9001, "customer_id": 77, "email": " Ana@Example.com ",
      "shopify_customer_id": 820982911946154508, "shopify_order_id": null, "status": "ERROR",
      "type": "RECURRING", "currency": "KWD", "total_price": "10.125", "number_times_tried": 3,
      "error": "Card declined", "error_type": "CLOSED_MAX_RETRIES_REACHED",
      "retry_date": "2023-06-01T00:00:00", "updated_at": "2023-05-30T10:00:00",
      "line_items": [{"subscription_id": 5, "price": "10.125", "quantity": 1}]}}`;
    const rows = rowsOf("charge/failed", legacy);
    expect(rows.row).toMatchObject({
      customerId: "77",
      shopifyCustomerId: "820982911946154508",
      email: "ana@example.com",
      status: "error",
      type: "recurring",
      totalPriceMinor: 10125,
      chargeAttempts: 3,
      error: "Card declined",
      errorType: "CLOSED_MAX_RETRIES_REACHED",
      retryDate: "2023-06-01T00:00:00.000Z",
      updatedAt: "2023-05-30T10:00:00.000Z",
      totalShippingMinor: null,
    });
    expect(rows.table === "charges" && rows.lineItems).toMatchObject([{ purchaseItemId: "5", unitPriceMinor: 10125 }]);
  });

  it("maps a paid charge that carries no error key at all", () => {
    const paid = `{"charge": {"id": 9002, "customer_id": 78, "status": "success", "type": "recurring",
      "currency": "USD", "total_price": "25.00", "updated_at": "2023-05-30T10:00:00+00:00"}}`;
    expect(rowsOf("charge/paid", paid).row).toMatchObject({
      id: "9002",
      status: "success",
      totalPriceMinor: 2500,
      error: null,
    });
  });

  it("maps the customer fixture (zone-less times read as UTC) and takes status from (de)activation topics", () => {
    expect(rowsOf("customer/created", customer)).toEqual({
      table: "customers",
      row: {
        id: "82940007",
        shopifyCustomerId: null,
        email: "testtesttest5@test.dk",
        firstName: "Niels",
        lastName: "Bohr",
        phone: null,
        status: null,
        subscriptionsActiveCount: 0,
        subscriptionsTotalCount: 0,
        hasValidPaymentMethod: false,
        hasPaymentMethodInDunning: false,
        firstChargeProcessedAt: null,
        createdAt: "2022-03-09T02:36:35.000Z",
        updatedAt: "2022-03-09T02:36:35.000Z",
        deletedAt: null,
        lastEventId: "rc_unit",
      },
    });
    expect(rowsOf("customer/deactivated", customer).row.status).toBe("inactive");
    expect(rowsOf("customer/activated", customer).row.status).toBe("active");
    const withShopify = { customer: { ...customer.customer, external_customer_id: { ecommerce: "5213433266347" } } };
    expect(rowsOf("customer/updated", withShopify).row.shopifyCustomerId).toBe("5213433266347");
  });

  it("normalizes times: offsets, zone-less, bare dates", () => {
    expect(rechargeTime("2023-05-13T00:07:39-04:00")).toBe("2023-05-13T04:07:39.000Z");
    expect(rechargeTime("2023-05-13T04:07:39+00:00")).toBe("2023-05-13T04:07:39.000Z");
    expect(rechargeTime("2022-03-09T02:36:35")).toBe("2022-03-09T02:36:35.000Z");
    expect(rechargeTime("2022-04-09")).toBe("2022-04-09T00:00:00.000Z");
    expect(rechargeTime("next tuesday")).toBeNull();
  });

  it("archives topics without a table and unwrapped bodies of unlisted actions", () => {
    expect(outcome("order/created", JSON.stringify(order))).toEqual({
      kind: "skip",
      note: "no table for Recharge topic order/created",
    });
    expect(outcome("address/updated", '{"address":{"id":1}}')).toMatchObject({ kind: "skip" });
    expect(outcome("customer/payment_method_updated", '{"payment_method":{}}')).toMatchObject({ kind: "skip" });
  });

  it("refuses payloads that fail validation, naming the field", () => {
    expect(outcome("subscription/created", '{"charge":{"id":1}}')).toBe(
      'invalid: expected a {"subscription": {...}} body',
    );
    const noUpdatedAt = JSON.stringify({ subscription: { ...sub, updated_at: undefined } });
    expect(outcome("subscription/updated", noUpdatedAt)).toMatch(/^invalid: subscription\.updated_at/);
    const badPrice = JSON.stringify({ subscription: { ...sub, price: "forty-nine" } });
    expect(outcome("subscription/updated", badPrice)).toBe("invalid: subscription.price: expected a decimal amount");
    const badTime = JSON.stringify({ charge: { ...charge.charge, processed_at: "yesterday" } });
    expect(outcome("charge/paid", badTime)).toBe("invalid: charge.processed_at: expected an ISO-8601 time");
    expect(outcome("charge/paid", '{"charge":{"id":null}}')).toMatch(/^invalid: charge\.id/);
  });
});
