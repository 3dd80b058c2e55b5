/** The page shell of `/ops`: one inline stylesheet, no scripts (every action is a plain form post). */
import type { Child } from "hono/jsx";

const STYLE = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2329;background:#f6f7f9}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;padding:.7rem 1.5rem;background:#1d2329;color:#fff}
header h1{font-size:1.1rem;margin:0;flex:1;white-space:nowrap}header form{margin:0}
main{padding:1rem 1.5rem;max-width:1400px;margin:0 auto}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.8rem 1rem;margin:0 0 1rem;overflow-x:auto}
h2{font-size:1rem;margin:.2rem 0 .6rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eceef1;padding:.3rem .5rem;text-align:left;vertical-align:middle}
th{font-weight:600;color:#4b5563;font-size:.85rem;white-space:nowrap}
td.wrap{overflow-wrap:anywhere}td.nowrap{white-space:nowrap}
.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#166534}.warn{color:#92400e}.fail{color:#b91c1c;font-weight:600}
.badge{white-space:nowrap;display:inline-block;border-radius:3px;padding:0 .35rem;font-size:.8rem;background:#eef0f3}
.badge.fail{background:#fee2e2}.badge.ok{background:#dcfce7}.badge.warn{background:#fef3c7}
.notice{background:#ecfdf5;border:1px solid #a7f3d0;padding:.5rem .8rem;border-radius:6px;margin:0 0 1rem}
.error{background:#fef2f2;border-color:#fecaca}
button{font:inherit;padding:.25rem .7rem;border:1px solid #9ca3af;border-radius:4px;background:#fff;cursor:pointer}
header button{background:#374151;color:#fff;border-color:#4b5563}
input{font:inherit;padding:.35rem .5rem;border:1px solid #9ca3af;border-radius:4px;max-width:100%}
.muted{color:#6b7280}.small{font-size:.85em}code{font-size:.85em}
time[title]{text-decoration:underline dotted #9ca3af;text-underline-offset:2px;cursor:help}
svg.chart{display:block;max-width:100%;height:auto}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:.6rem;background:none;border:0;padding:0;overflow:visible}
.tile{display:flex;flex-direction:column;gap:.1rem;padding:.6rem .8rem;border:1px solid #dde1e6;border-left-width:5px;border-radius:6px;background:#fff;color:inherit;text-decoration:none}
.tile.ok{border-left-color:#16a34a}.tile.warn{border-left-color:#d97706}.tile.fail{border-left-color:#dc2626}
.tile-title{font-size:.8rem;color:#4b5563;font-weight:600}.tile-value{font-size:1.1rem;font-weight:600}
.tile.ok .tile-value{color:#166534}.tile.warn .tile-value{color:#92400e}.tile.fail .tile-value{color:#b91c1c}
.tile-note{font-size:.8rem;color:#6b7280;font-weight:400}.tile-note code{white-space:nowrap}
.as-of{margin:.2rem 0 .8rem}
.signin{max-width:380px;margin:4rem auto}.signin input{width:100%;margin:.4rem 0 .8rem}
@media (max-width:760px){
header{padding:.6rem 1rem}header h1{font-size:1rem;flex-basis:100%}
main{padding:.8rem}
section{padding:.6rem .7rem}
.tiles{grid-template-columns:1fr 1fr}
table.cards thead{display:none}
table.cards tr{display:block;padding:.35rem 0;border-bottom:1px solid #dde1e6}
table.cards td{display:flex;justify-content:space-between;align-items:baseline;gap:1rem;border:0;padding:.1rem 0;text-align:right;white-space:normal;overflow-wrap:anywhere}
table.cards td::before{content:attr(data-label);color:#4b5563;font-weight:600;font-size:.85rem;text-align:left;white-space:nowrap}
table.cards td[data-label=""]::before,table.cards td:not([data-label])::before{content:none}
table.cards td .cell{min-width:0}
table.cards td.chart-cell{display:block;text-align:left}
table.cards td.chart-cell::before{display:block}
table.cards td.chart-cell svg{width:100%}
#person-form input{width:100%;margin:.3rem 0}
}
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
