/**
 * Which store commits the lake's Iceberg tables, read from the Worker's settings. With all three of
 * LAKE_CATALOG_URI, LAKE_CATALOG_WAREHOUSE and the secret LAKE_CATALOG_TOKEN set, commits go through
 * the Iceberg REST catalog (R2 Data Catalog); with none, the lake is written by path. Some but not
 * all is a half-done setup, refused by name rather than quietly falling back to writing by path,
 * which would fork the tables' history between two stores.
 */

export interface LakeCatalogEnv {
  LAKE_CATALOG_URI?: string;
  LAKE_CATALOG_WAREHOUSE?: string;
  LAKE_CATALOG_TOKEN?: string;
}

export interface LakeCatalogConfig {
  /** The catalog's base URI, without a trailing slash (`https://catalog.cloudflarestorage.com/<account_id>/<bucket>`). */
  uri: string;
  /** The warehouse name (`<account_id>_<bucket>` for R2 Data Catalog). */
  warehouse: string;
  /** A bearer token with R2 Data Catalog and R2 Storage read and write. */
  token: string;
}

type SettingName = keyof LakeCatalogEnv;

const HOW_TO_SET: Record<SettingName, string> = {
  LAKE_CATALOG_URI:
    'LAKE_CATALOG_URI: the Catalog URI `npx wrangler r2 bucket catalog enable <bucket>` prints, as a var in wrangler.toml ([vars] LAKE_CATALOG_URI = "https://catalog.cloudflarestorage.com/<account_id>/<bucket>")',
  LAKE_CATALOG_WAREHOUSE:
    'LAKE_CATALOG_WAREHOUSE: the Warehouse it prints, as a var in wrangler.toml ([vars] LAKE_CATALOG_WAREHOUSE = "<account_id>_<bucket>")',
  LAKE_CATALOG_TOKEN:
    "LAKE_CATALOG_TOKEN: an R2 API token with R2 Data Catalog and R2 Storage read and write, with `wrangler secret put LAKE_CATALOG_TOKEN` (locally: in .dev.vars)",
};

/** The catalog settings are half done (`missing` names what is unset) or malformed: nothing can commit until fixed. */
export class LakeCatalogConfigError extends Error {
  constructor(
    message: string,
    readonly missing: readonly SettingName[] = [],
  ) {
    super(message);
    this.name = "LakeCatalogConfigError";
  }
}

function halfConfigured(missing: readonly SettingName[]): LakeCatalogConfigError {
  return new LakeCatalogConfigError(
    `The lake's Iceberg catalog is half configured: ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not set. ` +
      `Set ${missing.map((name) => HOW_TO_SET[name]).join("; ")}. ` +
      "Or unset all three LAKE_CATALOG_* settings to write the lake by path.",
    missing,
  );
}

const NAMES: readonly SettingName[] = ["LAKE_CATALOG_URI", "LAKE_CATALOG_WAREHOUSE", "LAKE_CATALOG_TOKEN"];

/** The REST catalog's settings, or null when the lake is written by path; throws when only some are set. */
export function lakeCatalogConfig(env: LakeCatalogEnv): LakeCatalogConfig | null {
  const value = (name: SettingName) => env[name]?.trim() ?? "";
  const missing = NAMES.filter((name) => value(name) === "");
  if (missing.length === NAMES.length) return null;
  if (missing.length > 0) throw halfConfigured(missing);
  const uri = value("LAKE_CATALOG_URI").replace(/\/+$/, "");
  if (!URL.canParse(uri) || !/^https?:$/.test(new URL(uri).protocol)) {
    throw new LakeCatalogConfigError(
      `LAKE_CATALOG_URI is not a catalog URI (got "${uri.slice(0, 80)}"): set it to the Catalog URI ` +
        "`npx wrangler r2 bucket catalog get <bucket>` prints (https://catalog.cloudflarestorage.com/<account_id>/<bucket>).",
    );
  }
  return { uri, warehouse: value("LAKE_CATALOG_WAREHOUSE"), token: value("LAKE_CATALOG_TOKEN") };
}
