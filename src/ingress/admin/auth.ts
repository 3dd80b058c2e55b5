/** `Authorization: Bearer $ADMIN_TOKEN` for the operator surface, compared in constant time. */
import type { Context, MiddlewareHandler } from "hono";
import { requireSecrets } from "../../shared/config";
import { timingSafeEqualText } from "../../shared/crypto";
import { AppError } from "../../shared/errors";

/** Whether the request carries a valid `Authorization: Bearer` admin token. */
export async function hasAdminBearer(c: Context<{ Bindings: Env }>): Promise<boolean> {
  const tokens = requireSecrets(c.env, "ADMIN_TOKEN");
  const header = c.req.header("authorization") ?? "";
  const given = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim() ?? "";
  let matched = false;
  for (const token of tokens) if (await timingSafeEqualText(token, given)) matched = true;
  return given !== "" && matched;
}

export function adminAuth(): MiddlewareHandler<{ Bindings: Env }> {
  return async function adminAuthMiddleware(c, next) {
    if (!(await hasAdminBearer(c))) {
      throw new AppError(401, "unauthorized", "Send Authorization: Bearer <ADMIN_TOKEN>.");
    }
    await next();
  };
}
