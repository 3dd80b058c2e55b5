export default {
  async fetch(request: Request, env: Env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    const n = Number(url.searchParams.get("n") ?? 100);
    const conc = Number(url.searchParams.get("c") ?? 1);
    const cond = url.searchParams.get("cond") === "1";
    const meta = url.searchParams.get("meta") === "1";
    const tag = url.searchParams.get("tag") ?? "x";
    const body = "x".repeat(4500);
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        await env.LAKE.put(`probe/${tag}/${i}.json`, body, {
          ...(cond ? { onlyIf: new Headers({ "If-None-Match": "*" }) } : {}),
          httpMetadata: { contentType: "application/json" },
          ...(meta ? { customMetadata: { a: "1", b: "2" } } : {}),
        });
      }
    };
    await Promise.all(Array.from({ length: conc }, worker));
    return Response.json({ n, conc, cond, ms: Date.now() - started, perPut: (Date.now() - started) / n });
  },
} satisfies ExportedHandler<Env>;
