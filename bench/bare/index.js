// The baseline for the ingress benchmark: a Worker that reads the body and answers 200.
export default {
  async fetch(request) {
    await request.arrayBuffer();
    return new Response('{"ok":true}', { headers: { "content-type": "application/json" } });
  },
};
