/**
 * The lake's storage for a Worker: the `LAKE` bucket, where its tables live (`LAKE_LOCATION`),
 * and the store that commits them: the Iceberg REST catalog (R2 Data Catalog) when one is
 * configured, else the bucket by path.
 */
import { lakeCatalogConfig } from "./catalog/config";
import { RestCatalogStore } from "./catalog/rest";
import { LakeLocation } from "./location";
import { R2TableStore } from "./r2-store";
import type { LakeIo } from "./table-writer";

/** The bucket's S3 URI when `LAKE_LOCATION` is not set: the bucket name in wrangler.toml. */
export const DEFAULT_LAKE_LOCATION = "s3://commerce-lake";

export interface LakeEnv {
  LAKE: R2Bucket;
  LAKE_LOCATION?: string;
  LAKE_CATALOG_URI?: string;
  LAKE_CATALOG_WAREHOUSE?: string;
  LAKE_CATALOG_TOKEN?: string;
}

export function lakeIo(env: LakeEnv): LakeIo {
  const location = new LakeLocation(env.LAKE_LOCATION || DEFAULT_LAKE_LOCATION);
  const catalog = lakeCatalogConfig(env);
  const store = catalog === null ? new R2TableStore(env.LAKE, location) : new RestCatalogStore(catalog);
  return { bucket: env.LAKE, store, location };
}
