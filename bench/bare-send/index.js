// The ingress floor for bench/ingress.mjs: a Worker that reads the body and sends the same
// kind of queue message the pipeline's ingress sends (envelope v1 with the body inline) to the
// same queue, then answers 200. No verification, no validation: what the platform costs alone.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    const body = await request.text();
    const now = new Date().toISOString();
    const h = request.headers;
    await env.EVENTS.send(
      {
        v: 1,
        source: "shopify",
        topic: h.get("x-shopify-topic"),
        eventId: h.get("x-shopify-event-id"),
        shop: h.get("x-shopify-shop-domain"),
        receivedAt: now,
        eventAt: now,
        apiVersion: null,
        origin: "webhook",
        body,
      },
      { contentType: "json" },
    );
    return new Response('{"ok":true}', { headers: { "content-type": "application/json" } });
  },
};
