/** The sign-in form (the admin token, posted once, answered with a session cookie) and the sign-out buttons. */
import { Layout } from "./layout";

export function SignInPage(props: { error?: string }) {
  return (
    <Layout title="Sign in · Commerce pipeline">
      <section class="signin">
        <h2>Sign in</h2>
        {props.error ? <p class="notice error">{props.error}</p> : null}
        <form method="post" action="/ops/sign-in">
          <label for="token">Admin token</label>
          <input id="token" name="token" type="password" autocomplete="current-password" required />
          <button type="submit">Sign in</button>
        </form>
        <p class="muted">The session lasts 8 hours. API clients keep using Authorization: Bearer.</p>
      </section>
    </Layout>
  );
}

/** The header's session buttons: sign out this browser, or every browser signed in. */
export function SignOutButtons(props: { csrf: string }) {
  return (
    <>
      <form method="post" action="/ops/sign-out">
        <input type="hidden" name="csrf" value={props.csrf} />
        <button type="submit">Sign out</button>
      </form>
      <form method="post" action="/ops/sign-out-everywhere">
        <input type="hidden" name="csrf" value={props.csrf} />
        <button type="submit">Sign out everywhere</button>
      </form>
    </>
  );
}
