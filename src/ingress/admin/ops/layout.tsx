/** The page shell of `/ops`: one inline stylesheet, no scripts (every action is a plain form post). */
import type { Child } from "hono/jsx";

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2329;background:#f6f7f9}
header{display:flex;align-items:center;gap:1rem;padding:.8rem 1.5rem;background:#1d2329;color:#fff}
header h1{font-size:1.1rem;margin:0;flex:1}header form{margin:0}
main{padding:1rem 1.5rem;max-width:1200px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.8rem 1rem;margin:0 0 1rem}
h2{font-size:1rem;margin:.2rem 0 .6rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eceef1;padding:.3rem .5rem;text-align:left;vertical-align:middle}
th{font-weight:600;color:#4b5563;font-size:.85rem}
.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#166534}.warn{color:#92400e}.fail{color:#b91c1c;font-weight:600}
.badge{white-space:nowrap;display:inline-block;border-radius:3px;padding:0 .35rem;font-size:.8rem;background:#eef0f3}
.badge.fail{background:#fee2e2}.badge.ok{background:#dcfce7}.badge.warn{background:#fef3c7}
.notice{background:#ecfdf5;border:1px solid #a7f3d0;padding:.5rem .8rem;border-radius:6px;margin:0 0 1rem}
.error{background:#fef2f2;border-color:#fecaca}
button{font:inherit;padding:.25rem .7rem;border:1px solid #9ca3af;border-radius:4px;background:#fff;cursor:pointer}
header button{background:#374151;color:#fff;border-color:#4b5563}
input{font:inherit;padding:.35rem .5rem;border:1px solid #9ca3af;border-radius:4px}
.muted{color:#6b7280}code{font-size:.85em}
.signin{max-width:380px;margin:4rem auto}.signin input{width:100%;box-sizing:border-box;margin:.4rem 0 .8rem}
`;

export function Layout(props: { title: string; header?: Child; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{props.title}</title>
        <style dangerouslySetInnerHTML={{ __html: STYLE }} />
      </head>
      <body>
        <header>
          <h1>Commerce pipeline · ops</h1>
          {props.header}
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}
