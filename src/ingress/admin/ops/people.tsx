/** `/ops/people`: one person's profile and activity across the sources, from the identity graph. */
import type { Child } from "hono/jsx";
import type { PersonActivity, PersonView } from "../people";
import { Layout } from "./layout";

function money(r: PersonActivity): string {
  if (r.amountMinor === null || r.currency === null) return "";
  return `${r.amountMinor} ${r.currency} (minor units)`;
}

function ActivityTable(props: { title: string; id: string; rows: PersonActivity[] }) {
  return (
    <section id={props.id}>
      <h2>
        {props.title} <span class="muted">({props.rows.length})</span>
      </h2>
      <table>
        <thead>
          <tr>
            <th>when</th>
            <th>source</th>
            <th>shop</th>
            <th>id</th>
            <th>reference</th>
            <th>status</th>
            <th>amount</th>
            <th>attributed by</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.length === 0 ? (
            <tr>
              <td colspan={8} class="muted">
                none
              </td>
            </tr>
          ) : (
            props.rows.map((r) => (
              <tr data-source={r.source} data-id={r.id}>
                <td>{r.occurredAt ?? ""}</td>
                <td>{r.source}</td>
                <td>{r.shop || "-"}</td>
                <td>
                  <code>{r.id}</code>
                </td>
                <td>{r.reference ?? ""}</td>
                <td>
                  {r.status}
                  {r.isTest ? " (test)" : ""}
                </td>
                <td class="num">{money(r)}</td>
                <td>{r.attributedBy}</td>
              </tr>
            ))
          )}
        </tbody>
      </table>
    </section>
  );
}

export function PersonForm(props: { email: string }) {
  return (
    <form method="get" action="/ops/people" id="person-form">
      <label for="email">Person by email </label>
      <input id="email" name="email" type="email" value={props.email} required />
      <button type="submit">Look up</button>
    </form>
  );
}

export function PeoplePage(props: { email: string; person: PersonView | null; error: string | null; header: Child }) {
  const p = props.person;
  return (
    <Layout title="Person · Commerce pipeline" header={props.header}>
      <p>
        <a href="/ops">← back to ops</a>
      </p>
      <section>
        <PersonForm email={props.email} />
      </section>
      {props.error ? <p class="notice error">{props.error}</p> : null}
      {p ? (
        <>
          <section id="profile">
            <h2>Profile {p.profileId}</h2>
            <p>Emails: {p.emails.join(", ")}</p>
            <table>
              <thead>
                <tr>
                  <th>source</th>
                  <th>shop</th>
                  <th>customer id</th>
                  <th>email</th>
                  <th>matched by</th>
                </tr>
              </thead>
              <tbody>
                {p.identities.map((i) => (
                  <tr>
                    <td>{i.source}</td>
                    <td>{i.shop || "-"}</td>
                    <td>
                      <code>{i.externalId}</code>
                    </td>
                    <td>{i.email ?? ""}</td>
                    <td>{i.matchedBy}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <ActivityTable title="Orders" id="orders" rows={p.orders} />
          <ActivityTable title="Subscriptions" id="subscriptions" rows={p.subscriptions} />
          <ActivityTable title="Charges" id="charges" rows={p.charges} />
          <ActivityTable title="Disputes" id="disputes" rows={p.disputes} />
        </>
      ) : null}
    </Layout>
  );
}
